"""HL7 v2.x laboratory results (ORU^R01) in, acknowledgements out, and the MLLP listener.

Parsing and building use python-hl7 (``hl7.parse``, ``Message.create_ack``, ``hl7.split_file``,
``hl7.mllp.start_hl7_server``); this module only reads the fields Tarla needs:

- MSH-9 message type (``ORU^R01``), MSH-10 control id (the idempotency key), MSH-11
  processing id, MSH-12 version (2.x);
- PID-3 the MRN (the repetition typed ``MR``, else the first), PID-7 date of birth;
- OBR-7 the specimen's collection time (OBX-14 when a result carries its own);
- OBX-2 value type, OBX-3 the LOINC code (``LN``), OBX-5 value, OBX-6 unit (UCUM code),
  OBX-7 reference range, OBX-11 result status.

A message that is not a readable ORU^R01 raises :class:`Hl7Reject` (the sender gets ``AR``);
the clinical judgement of what it says is :mod:`tarla.services.labs_in`'s. Acknowledgements
are original-mode ACKs (MSA-1 ``AA``/``AE``/``AR``, MSA-3 the reason) with an ERR segment
(ERR-2 location, ERR-3 HL7 table 0357 code, ERR-4 severity, ERR-8 the reason) when refused.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone
from typing import Any

import hl7
import hl7.mllp
from hl7.exceptions import HL7Exception

from tarla.domain.lab_interface import Observation

__all__ = ["Hl7Reject", "OruMessage", "parse_oru", "build_ack", "split_messages",
           "read_control_id", "ERROR_CODES", "serve_mllp", "RECEIVER", "hl7_datetime",
           "normalise"]

#: MSH-3 of the acknowledgements Tarla sends.
RECEIVER = "TARLA"

#: HL7 table 0357 (message error condition codes) used in ERR-3.
ERROR_CODES = {
    "segment": ("100", "Segment sequence error"),
    "required": ("101", "Required field missing"),
    "datatype": ("102", "Data type error"),
    "table": ("103", "Table value not found"),
    "message_type": ("200", "Unsupported message type"),
    "event": ("201", "Unsupported event code"),
    "processing": ("202", "Unsupported processing id"),
    "version": ("203", "Unsupported version id"),
    "unknown_key": ("204", "Unknown key identifier"),
    "application": ("207", "Application internal error"),
}
_DTM = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?(?:\.\d+)?)?([+-]\d{4})?$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")


class Hl7Reject(ValueError):
    """The message cannot be read as an ORU^R01: acknowledged ``AR``. ``field`` is the HL7
    location (``MSH-9``, ``OBX[2]-3``), ``condition`` a key of :data:`ERROR_CODES`."""

    def __init__(self, field: str, message: str, condition: str = "required",
                 control_id: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.condition = condition
        self.control_id = control_id


@dataclass(frozen=True, slots=True)
class OruMessage:
    control_id: str
    sender: str  # MSH-3^MSH-4
    mrn: str
    birth_date: date | None
    collected: str  # OBR-7 as sent (HL7 DTM); the service reads it in the site's zone
    observations: tuple[Observation, ...]
    observed: tuple[str, ...]  # OBX-14 of each observation ("" if none)


def _text(seg: Any, field: int, component: int = 1, repetition: int = 1) -> str:
    """One component of one repetition (python-hl7's ``extract_field`` path rules), unescaped
    by the library; a field the segment does not have is empty."""
    try:
        return str(seg.extract_field(1, field, repetition, component, 1)).strip()
    except (IndexError, KeyError, TypeError, HL7Exception):
        return ""


def _field(seg: Any, field: int) -> str:
    try:
        return str(seg(field)).strip()
    except (IndexError, KeyError, TypeError):
        return ""


def normalise(raw: str) -> str:
    """Segments end with CR; files written on other systems end them with LF or CRLF."""
    return raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c ") + "\r"


def split_messages(text: str) -> list[str]:
    """The messages of a file (batch/file header segments dropped, ``hl7.split_file``)."""
    return [m for m in hl7.split_file(normalise(text)) if m.strip()]


def _parse(raw: str) -> Any:
    try:
        return hl7.parse(normalise(raw))
    except (HL7Exception, IndexError, ValueError) as exc:
        raise Hl7Reject("MSH", f"not an HL7 v2 message ({exc})", "segment") from None


def read_control_id(raw: str) -> str | None:
    """MSH-10 if the header can be read at all (so even a rejected message is idempotent)."""
    try:
        msh = hl7.parse(normalise(raw)).segment("MSH")
    except (HL7Exception, IndexError, KeyError, ValueError):
        return None
    return _field(msh, 10) or None


def parse_oru(raw: str) -> OruMessage:
    msg = _parse(raw)
    try:
        msh = msg.segment("MSH")
    except KeyError:
        raise Hl7Reject("MSH", "the message has no MSH segment", "segment") from None
    control = _field(msh, 10)
    if not control:
        raise Hl7Reject("MSH-10", "the message control id is missing")
    if len(control) > 64:
        raise Hl7Reject("MSH-10", "the message control id is longer than 64 characters",
                        "datatype")

    def reject(field: str, message: str, condition: str = "required") -> Hl7Reject:
        return Hl7Reject(field, message, condition, control)

    kind, event = _text(msh, 9, 1), _text(msh, 9, 2)
    if kind != "ORU":
        raise reject("MSH-9", f"message type {kind or 'missing'!s} is not ORU (Tarla receives "
                              "laboratory results, ORU^R01)", "message_type")
    if event != "R01":
        raise reject("MSH-9", f"trigger event {event or 'missing'} is not R01", "event")
    version = _text(msh, 12)
    if not version.startswith("2."):
        raise reject("MSH-12", f"version {version or 'missing'} is not HL7 v2.x", "version")
    processing = _text(msh, 11)
    if processing != "P":
        raise reject("MSH-11", f"processing id {processing or 'missing'} is not P "
                               "(production); test and debugging messages are not charted",
                     "processing")
    try:
        pid = msg.segment("PID")
    except KeyError:
        raise reject("PID", "the message has no PID segment (the patient)", "segment") from None
    mrn = _mrn(pid)
    if not mrn:
        raise reject("PID-3", "the patient's MRN is missing")
    birth = _birth_date(pid, reject)
    try:
        obr = msg.segment("OBR")
    except KeyError:
        raise reject("OBR", "the message has no OBR segment (the order and collection "
                            "time)", "segment") from None
    collected = _text(obr, 7)
    if not collected:
        raise reject("OBR-7", "the specimen's collection time is missing")
    match = _DTM.match(collected)
    if not match or match[4] is None:
        raise reject("OBR-7", f"{collected!r} is not an HL7 date and time of day "
                              "(YYYYMMDDHHMM[SS][+ZZZZ]): labs count by when they were drawn",
                     "datatype")
    obxs = msg.segments("OBX") if _has(msg, "OBX") else []
    if not obxs:
        raise reject("OBX", "the message has no results (OBX segments)", "segment")
    observations: list[Observation] = []
    observed: list[str] = []
    for n, obx in enumerate(obxs, start=1):
        at = f"OBX[{n}]"
        system = _text(obx, 3, 3)
        code = _text(obx, 3, 1)
        if system and system not in ("LN", "LNC", "LOINC"):
            raise reject(f"{at}-3", f"code {code!r} is coded in {system!r}, not LOINC (LN)",
                         "table")
        value_type = _text(obx, 2)
        if value_type and value_type not in ("NM", "SN", "ST"):
            raise reject(f"{at}-2", f"value type {value_type!r} is not numeric (NM)",
                         "datatype")
        when = _text(obx, 14)
        if when and not _DTM.match(when):
            raise reject(f"{at}-14", f"{when!r} is not an HL7 date/time", "datatype")
        observations.append(Observation(
            code=code, value=_field(obx, 5), unit=_text(obx, 6, 1),
            reference_range=_field(obx, 7), status=_field(obx, 11),
            where={"code": f"{at}-3", "value": f"{at}-5", "unit": f"{at}-6",
                   "range": f"{at}-7", "status": f"{at}-11"}))
        observed.append(when)
    return OruMessage(control, f"{_text(msh, 3)}^{_text(msh, 4)}", mrn, birth, collected,
                      tuple(observations), tuple(observed))


def _has(msg: Any, segment: str) -> bool:
    try:
        msg.segment(segment)
    except KeyError:
        return False
    return True


def _mrn(pid: Any) -> str:
    try:
        repetitions = len(pid(3))
    except (IndexError, KeyError, TypeError):
        return ""
    for rep in range(1, repetitions + 1):  # the identifier typed MR (CX-5)
        if _text(pid, 3, 5, rep) == "MR":
            return _text(pid, 3, 1, rep)
    return _text(pid, 3, 1)


def _birth_date(pid: Any, reject: Callable[..., Hl7Reject]) -> date | None:
    text = _text(pid, 7)
    if not text:
        return None
    m = _DATE.match(text)
    try:
        if not m:
            raise ValueError
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise reject("PID-7", f"{text!r} is not a date of birth (YYYYMMDD)",
                     "datatype") from None


def hl7_datetime(text: str, field: str) -> tuple[datetime, bool]:
    """An HL7 DTM as a datetime, and whether it carried its own UTC offset."""
    m = _DTM.match(text)
    if not m:
        raise Hl7Reject(field, f"{text!r} is not an HL7 date/time", "datatype")
    try:
        parsed = hl7.parse_datetime(text)
    except ValueError as exc:
        raise Hl7Reject(field, f"{text!r}: {exc}", "datatype") from None
    if parsed.tzinfo is not None:  # python-hl7's offset class -> a plain fixed offset
        parsed = parsed.replace(tzinfo=timezone(parsed.utcoffset()))
    return parsed, m[7] is not None


def build_ack(raw: str | None, code: str, *, control_id: str, at: datetime,
              facility: str, reason: str | None = None, field: str | None = None,
              condition: str | None = None) -> str:
    """The ACK of ``raw`` (MSH built by ``Message.create_ack``), MSA-3 and an ERR segment
    carrying the reason when ``code`` is not ``AA``. A message whose header cannot be read
    is answered from an empty ORU header (MSA-2 empty)."""
    try:
        source = hl7.parse(normalise(raw or ""))
        header = source.segment("MSH")
        while len(header) < 13:  # a short header: create_ack reads MSH-3 to MSH-12
            header.append(source.create_field([""]))
        ack = source.create_ack(code, message_id=control_id, application=RECEIVER,
                                facility=facility)
    except (HL7Exception, IndexError, KeyError, ValueError):
        source = hl7.parse("MSH|^~\\&|||||||ORU^R01|||2.5.1\r")
        ack = source.create_ack(code, message_id=control_id, application=RECEIVER,
                                facility=facility)
    msh = ack.segment("MSH")
    msh.assign_field(at.strftime("%Y%m%d%H%M%S%z"), 7)
    if not _field(msh, 12):
        msh.assign_field("2.5.1", 12)
    if reason:
        text = ack.escape(f"{field}: {reason}" if field else reason)
        ack.segment("MSA").assign_field(text[:400], 3)
    if reason and code != "AA":
        err = ack.create_segment([ack.create_field(["ERR"])])
        if field:
            location = re.match(r"^([A-Z0-9]{3})(?:\[(\d+)\])?(?:-(\d+))?", field)
            if location:
                err.assign_field(location[1], 2, 1, 1)
                err.assign_field(location[2] or "1", 2, 1, 2)
                if location[3]:
                    err.assign_field(location[3], 2, 1, 3)
        number, words = ERROR_CODES[condition or ("application" if code == "AE"
                                                  else "required")]
        err.assign_field(number, 3, 1, 1)
        err.assign_field(words, 3, 1, 2)
        err.assign_field("HL70357", 3, 1, 3)
        err.assign_field("E", 4)
        err.assign_field(text, 8)
        ack.append(err)
    return str(ack)


async def serve_mllp(handle: Callable[[str], Awaitable[str]], host: str, port: int
                     ) -> asyncio.AbstractServer:
    """Start the MLLP listener: each message read is passed to ``handle`` (which stores and
    judges it) and its answer written back as one MLLP block."""

    async def client(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter
                     ) -> None:
        try:
            while not writer.is_closing():
                try:
                    block = await reader.readblock()
                except asyncio.IncompleteReadError:
                    break
                except (hl7.mllp.InvalidBlockError, ValueError) as exc:
                    # bad MLLP framing or an oversized block: nothing readable to store
                    answer = build_ack(None, "AR", control_id=_fresh_id(),
                                       at=datetime.now(UTC), facility="", field="MSH",
                                       reason=f"unreadable MLLP block ({exc})",
                                       condition="segment")
                else:
                    answer = await handle(block.decode("utf-8", errors="replace"))
                writer.writeblock(answer.encode("utf-8"))
                await writer.drain()
        finally:
            writer.close()

    return await hl7.mllp.start_hl7_server(client, host, port)


def _fresh_id() -> str:
    return str(hl7.generate_message_control_id())
