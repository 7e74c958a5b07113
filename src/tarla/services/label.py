"""Label versions, the version a site's new courses start on, and rule sign-offs
(label-facts §8 and §9 governance).

- A label version is a value (:mod:`tarla.label.value`): rows grouped by table and a content
  hash. The built-in version (US-PI-2025-11) is registered on first use; a later version is
  loaded from a revision file (:func:`register_revision`) and stored with its hash, never
  edited in place.
- Which version a site's new courses start on is a site setting (:func:`set_new_course_version`,
  audited); a course keeps the version it started on (``CourseRecord.label_version``) until a
  physician of its site moves it to another version of the same drug, course by course, with
  a reason and their password re-entered (:func:`move_course_to_version`, audited). The
  engine computes each course with the rows of its version
  (:func:`tarla.services._common.rules_for`).
- A sign-off is an e-signature pinned to content: site, drug, version, content hash, rule ids,
  who, when, comment; the signer re-enters their password (checked with the sign-in's own
  hasher, :class:`~tarla.services.ports.PasswordCheck`). A pharmacist or physician of the site
  may revoke one, with a reason (audited); a revoked sign-off, or one of another content hash
  (the rows changed), no longer counts.
- :func:`signed_rules` gives, per site and version, rule id -> who signed it and when: the read
  layer passes it to the screens, so a signed UNVERIFIED rule says "signed off by NAME on
  DATE" instead of "UNCONFIRMED RULE". The core never sees sign-offs.

Sites are walls (:mod:`tarla.services.scope`): a user signs, revokes and chooses versions for
their own site only; a version is shared by every site (registering one changes nothing a site
computes or has signed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_VERSION
from tarla.label.rows import Provenance
from tarla.label.rules import BUILTIN_RULES, rules_of
from tarla.label.value import (
    DRUG,
    Label,
    LabelDiff,
    LabelRow,
    current_label,
    diff,
    label_from_rows,
    load_label_revision,
    revision_base,
)
from tarla.services import audit
from tarla.services._common import (
    actor_with,
    aware,
    course_or_404,
    refresh_course,
    scope_of,
    site_for,
    zone_of,
)
from tarla.services.errors import AlreadyRecorded, NotFound
from tarla.services.ports import PasswordCheck, UnitOfWork
from tarla.services.records import (
    LabelRuleRecord,
    LabelVersionRecord,
    SignoffRecord,
    SiteLabelRecord,
    SiteRecord,
    UserRecord,
)
from tarla.services.scope import Scope
from tarla.services.vocab import SIGN_OFF_ROLES, Role

__all__ = ["LABEL_ROLES", "ensure_label_version", "label_of", "hash_in_force",
           "register_revision", "RegisterResult", "set_new_course_version",
           "version_for_new_course", "SiteVersionResult", "sign_off_label", "SignoffResult",
           "revoke_signoff", "SignedRule", "SignedOff", "signed_rules", "signoff_status",
           "SignoffStatus", "compare_versions", "RulesOverview", "VersionInfo",
           "rules_overview", "move_course_to_version", "CourseVersionResult",
           "versions_to_move_to", "MOVE_ROLES"]

#: Who loads a label revision and chooses the version new courses start on.
LABEL_ROLES = frozenset({Role.PHARMACIST, Role.PHYSICIAN, Role.ADMIN})

_REASON_MAX = 2000

#: Content hashes the built-in rows had in earlier Tarla releases, with the same rule ids, tags,
#: texts and values in an older field layout (before extended monitoring, counselling and the
#: Table 4 families were data the engine reads). A database that registered one is brought to
#: the current layout; sign-offs pinned to it no longer count and are signed again.
_EARLIER_BUILT_IN_HASHES = frozenset({
    "1a9b2d9c8cc05631b14be5a14442685b201677add0d1adbd91572a4daa8aa4a2",
    # before the concomitant rows carried their time windows (anchor, hours)
    "d2440ee513c1acfcb60090fb6d8dbcd6ca4e88c4dd7ead02889202fc653cd99f"})


# --------------------------------------------------------------------------- versions


def _rule_records(label: Label) -> list[LabelRuleRecord]:
    return [LabelRuleRecord(label_version=label.version, rule_id=r.rule_id, tag=r.tag.value,
                            text=r.text, label_table=r.table, fields_json=r.fields_json)
            for r in label.rows]


def _version_record(label: Label, now: datetime, by: int | None) -> LabelVersionRecord:
    return LabelVersionRecord(id=label.version, source=label.source, registered_at=now,
                              drug=label.drug, content_hash=label.content_hash,
                              base_version=label.base_version, registered_by=by)


def ensure_label_version(uow: UnitOfWork, now: datetime) -> None:
    """Register the built-in label version with its rows and content hash, once (inside the
    caller's transaction; registering reference data is not a clinical change and is not
    audited). A version registered before content hashes were kept is completed, if its
    stored rows are exactly the code's rows; otherwise it is left without a hash (and its
    sign-offs cannot count)."""
    label = current_label()
    stored = uow.label.version(label.version)
    if stored is None:
        uow.label.add_version(_version_record(label, now, None), _rule_records(label))
    elif stored.content_hash is None or stored.content_hash in _EARLIER_BUILT_IN_HASHES:
        have = {(r.rule_id, r.tag, r.text) for r in uow.label.rules(label.version)}
        if have == {(r.rule_id, r.tag.value, r.text) for r in label.rows}:
            uow.label.complete_version(
                dataclasses.replace(stored, drug=label.drug, content_hash=label.content_hash),
                _rule_records(label))


def label_of(uow: UnitOfWork, version: str) -> Label:
    """The rows of ``version`` (inside the caller's unit of work). The built-in version is
    the code's rows, what decisions compute with; another is read back from storage and its
    content hash checked."""
    if version == LABEL_VERSION:
        return current_label()
    stored = uow.label.version(version)
    if stored is None:
        raise NotFound("label_version", f"no label version {version!r} is registered")
    rows = uow.label.rules(version)
    if stored.content_hash is None or any(r.label_table is None for r in rows):
        raise InvalidInput("label_version", f"{version} was registered without its content")
    label = label_from_rows(
        drug=stored.drug, version=version, source=stored.source,
        base_version=stored.base_version,
        rows=(LabelRow(r.rule_id, Provenance(r.tag), r.text, r.label_table or "",
                       r.fields_json or "{}") for r in rows))
    if label.content_hash != stored.content_hash:
        raise InvalidInput("label_version", f"the stored rows of {version} no longer match "
                                            "their content hash: do not use them")
    return label


def hash_in_force(uow: UnitOfWork, version: str) -> str | None:
    """The content hash a sign-off of ``version`` must carry to count: for the built-in
    version the hash of the rows decisions compute with, for another its registered hash.
    None when the built-in rows differ from those registered under its id (edited in place,
    or registered before hashes and not completed because its rows are not the code's), so
    that nothing counts, and nothing can be signed, until that is put right."""
    stored = uow.label.version(version)
    if version == LABEL_VERSION:
        # the hash of the built-in rows, as built once for the engine (BUILTIN_RULES is
        # rules_of(current_label())): rebuilding the label costs ~2 ms a call
        code = BUILTIN_RULES.content_hash
        return code if stored is None or stored.content_hash == code else None
    return None if stored is None else stored.content_hash


@dataclass(frozen=True, slots=True)
class RegisterResult:
    version: str
    base_version: str
    content_hash: str
    diff: LabelDiff


def register_revision(uow: UnitOfWork, *, text: str, actor: str,
                      now: datetime) -> RegisterResult:
    """Load a revision file (its text) onto its registered base version and register the new
    version with its rows and content hash (audited). Refused whole: nothing is written."""
    now = aware(now, "now")
    base_id = revision_base(text)
    with uow:
        user = actor_with(uow, actor, LABEL_ROLES, "load label revisions")
        ensure_label_version(uow, now)
        if not uow.label.has_version(base_id):
            raise InvalidInput("base_version", f"{base_id} is not a registered label version")
        base = label_of(uow, base_id)
        label = load_label_revision(text, base)
        rules_of(label)  # the engine must compute with it: a gap or an overlap names its row
        stored = uow.label.version(label.version)
        if stored is not None:
            same = stored.content_hash == label.content_hash
            raise AlreadyRecorded("version", f"{label.version} is already registered"
                                  + ("" if same else " with other rows: a changed revision "
                                                     "needs a version id of its own"))
        uow.label.add_version(_version_record(label, now, user.id), _rule_records(label))
        changes = diff(base, label)
        audit.append(uow, actor=user.username, action="label.register",
                     entity_type="label_version", entity_id=label.version, at=now,
                     after={"drug": label.drug, "label_version": label.version,
                            "base_version": base.version, "content_hash": label.content_hash,
                            "source": label.source,
                            "added": [r.rule_id for r in changes.added],
                            "removed": [r.rule_id for r in changes.removed],
                            "changed": [c.rule_id for c in changes.changed]})
        uow.commit()
    return RegisterResult(label.version, base.version, label.content_hash, changes)


def version_for_new_course(uow: UnitOfWork, site: SiteRecord) -> str:
    """The label version a new course at ``site`` starts on (inside the caller's unit)."""
    setting = uow.label.site_version(site.id, DRUG)  # type: ignore[arg-type]
    return LABEL_VERSION if setting is None else setting.label_version


@dataclass(frozen=True, slots=True)
class SiteVersionResult:
    site: str
    label_version: str
    previous: str
    changed: bool


def set_new_course_version(uow: UnitOfWork, *, site_code: str, label_version: str,
                           actor: str, now: datetime) -> SiteVersionResult:
    """Choose the registered label version the site's new courses start on (audited, with
    the version before). Existing courses keep theirs."""
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, LABEL_ROLES, "choose the label version for new courses")
        site = site_for(uow, site_code, scope_of(user))
        ensure_label_version(uow, now)
        if not uow.label.has_version(label_version):
            raise InvalidInput("label_version", f"{label_version!r} is not a registered label "
                                                "version")
        previous = version_for_new_course(uow, site)
        if previous == label_version:
            return SiteVersionResult(site.code, label_version, previous, False)
        uow.label.set_site_version(SiteLabelRecord(site_id=site.id, drug=DRUG,  # type: ignore[arg-type]
                                                   label_version=label_version,
                                                   set_by=user.id, set_at=now))  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="label.set_site_version",
                     entity_type="site", entity_id=site.id, at=now,
                     before={"site": site.code, "drug": DRUG, "label_version": previous},
                     after={"site": site.code, "drug": DRUG, "label_version": label_version})
        uow.commit()
    return SiteVersionResult(site.code, label_version, previous, True)


# --------------------------------------------------------------------------- sign-offs


def _of_site(uow: UnitOfWork, actor: str, site_code: str, doing: str,
             ) -> tuple[UserRecord, SiteRecord]:
    user = actor_with(uow, actor, SIGN_OFF_ROLES, doing)
    return user, site_for(uow, site_code, scope_of(user))  # the user's own site only


@dataclass(frozen=True, slots=True)
class SignoffResult:
    signoff_id: int
    label_version: str
    content_hash: str
    rule_ids: tuple[str, ...]
    unsigned: tuple[str, ...]  # rows of this version the site has still not signed


def sign_off_label(uow: UnitOfWork, *, site_code: str, rule_ids: Sequence[str], actor: str,
                   now: datetime, password: str, verify: PasswordCheck,
                   comments: str | None = None, label_version: str = LABEL_VERSION,
                   content_hash: str | None = None) -> SignoffResult:
    """A pharmacist or physician of the site signs rows (a subset of the version's rule ids),
    re-entering their password: an e-signature of exactly the rows of the version's content
    hash. ``content_hash``, when given, is the hash the signer read: if the rows changed since,
    nothing is signed."""
    now = aware(now, "now")
    ids = tuple(rule_ids)
    if not ids:
        raise InvalidInput("rule_ids", "name at least one rule to sign off")
    if len(set(ids)) != len(ids):
        raise InvalidInput("rule_ids", "a rule id is listed twice")
    with uow:
        user, site = _of_site(uow, actor, site_code, "sign off label rules")
        if not password:
            raise InvalidInput("password", "re-enter your password to sign: nothing was signed")
        if not verify(user.password_hash, password):
            raise InvalidInput("password", "is not your password: nothing was signed")
        ensure_label_version(uow, now)
        if not uow.label.has_version(label_version):
            raise InvalidInput("label_version", f"{label_version!r} is not a registered label "
                                                "version")
        in_force = hash_in_force(uow, label_version)
        if in_force is None:
            raise InvalidInput("label_version", f"the rows of {label_version} differ from those "
                                                "registered under that id: a changed label must "
                                                "be a new version before anyone signs it")
        if content_hash is not None and content_hash != in_force:
            raise InvalidInput("content_hash", f"the rows of {label_version} changed since you "
                                               "read them: read them again before signing")
        known = label_of(uow, label_version).rule_ids
        unknown = [r for r in ids if r not in known]
        if unknown:
            raise InvalidInput("rule_ids", f"not rules of {label_version}: {', '.join(unknown)}")
        rec = uow.label.add_signoff(SignoffRecord(
            site_id=site.id, label_version=label_version, signed_by=user.id,  # type: ignore[arg-type]
            signed_at=now, rule_ids=tuple(sorted(ids)), comments=comments, drug=DRUG,
            content_hash=in_force))
        audit.append(uow, actor=user.username, action="label.sign_off",
                     entity_type="label_signoff", entity_id=rec.id, at=now,
                     after={"site": site.code, "drug": DRUG, "label_version": label_version,
                            "content_hash": in_force, "rule_ids": list(rec.rule_ids),
                            "comments": comments, "signature": "password re-entered"})
        signed = set(_counting(uow, site.id, label_version, in_force))  # type: ignore[arg-type]
        uow.commit()
    return SignoffResult(rec.id, label_version, in_force, rec.rule_ids,  # type: ignore[arg-type]
                         tuple(sorted(known - signed)))


def revoke_signoff(uow: UnitOfWork, *, site_code: str, signoff_id: int, reason: str,
                   actor: str, now: datetime) -> SignoffRecord:
    """A pharmacist or physician of the site revokes one of its sign-offs, saying why
    (audited). The sign-off stays on record and no longer counts."""
    now = aware(now, "now")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why the sign-off is revoked")
    if len(reason) > _REASON_MAX:
        raise InvalidInput("reason", f"is too long ({_REASON_MAX} characters at most)")
    with uow:
        user, site = _of_site(uow, actor, site_code, "revoke sign-offs")
        found = uow.label.signoff(signoff_id)
        if found is None or found.site_id != site.id:
            raise NotFound("signoff_id", f"no sign-off {signoff_id}")
        if found.revoked_at is not None:
            raise AlreadyRecorded("signoff_id", f"sign-off {signoff_id} is already revoked")
        revoked = uow.label.revoke_signoff(dataclasses.replace(
            found, revoked_at=now, revoked_by=user.id, revoke_reason=reason))
        audit.append(uow, actor=user.username, action="label.revoke_sign_off",
                     entity_type="label_signoff", entity_id=found.id, at=now,
                     before={"revoked_at": None},
                     after={"site": site.code, "drug": found.drug,
                            "label_version": found.label_version,
                            "content_hash": found.content_hash,
                            "rule_ids": list(found.rule_ids), "reason": reason})
        uow.commit()
    return revoked


def _counting(uow: UnitOfWork, site_id: int, version: str,
              in_force: str | None) -> dict[str, SignoffRecord]:
    """rule id -> the latest sign-off that counts: of the site, of the version, not revoked,
    of the content hash in force."""
    out: dict[str, SignoffRecord] = {}
    if in_force is None:
        return out
    for s in uow.label.signoffs(site_id, version):
        if s.revoked_at is None and s.content_hash == in_force:
            for rule in s.rule_ids:
                out[rule] = s  # by id: a later sign-off of the rule replaces an earlier one
    return out


class SignedRule(NamedTuple):
    rule_id: str
    signoff_id: int
    by: str  # the signer's display name
    at: datetime
    on: date  # the site's local date


class SignedOff(NamedTuple):
    """What a screen says for one UNVERIFIED rule a decision relies on, signed by the site."""

    rule: str
    by: str
    on: date


def signed_rules(uow: UnitOfWork, *, site_id: int, label_version: str,
                 zone: ZoneInfo) -> dict[str, SignedRule]:
    """rule id -> who signed it off for the site, and when (inside the caller's unit): only
    sign-offs of the version's content hash in force that are not revoked count."""
    counting = _counting(uow, site_id, label_version, hash_in_force(uow, label_version))
    names: dict[int, str] = {}
    out: dict[str, SignedRule] = {}
    for rule, s in counting.items():
        if s.signed_by not in names:
            signer = uow.users.get(s.signed_by)
            names[s.signed_by] = signer.display_name if signer else f"user {s.signed_by}"
        out[rule] = SignedRule(rule, s.id, names[s.signed_by], s.signed_at,  # type: ignore[arg-type]
                               s.signed_at.astimezone(zone).date())
    return out


@dataclass(frozen=True, slots=True)
class SignoffStatus:
    label_version: str
    signed: tuple[str, ...]
    unsigned: tuple[str, ...]


def signoff_status(uow: UnitOfWork, *, site_code: str, viewer: Scope,
                   label_version: str = LABEL_VERSION) -> SignoffStatus:
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        known = label_of(uow, label_version).rule_ids
        signed = set(_counting(uow, site.id, label_version,  # type: ignore[arg-type]
                               hash_in_force(uow, label_version))) & known
    return SignoffStatus(label_version, tuple(sorted(signed)), tuple(sorted(known - signed)))


# --------------------------------------------------------------------------- the rules screen


def compare_versions(uow: UnitOfWork, *, a: str, b: str) -> LabelDiff:
    """Rule by rule, what version ``b`` changes in version ``a``."""
    with uow.readonly():
        return diff(_known_label(uow, a, "a"), _known_label(uow, b, "b"))


def _known_label(uow: UnitOfWork, version: str, field: str) -> Label:
    try:
        return label_of(uow, version)
    except NotFound:
        raise NotFound(field, f"no label version {version!r} is registered") from None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    drug: str
    source: str
    content_hash: str | None
    base_version: str | None
    registered_at: datetime | None  # None: the built-in version, not registered yet
    registered_by: str | None
    built_in: bool
    courses: int  # the site's courses that started on this version
    new_courses: bool  # the version the site's new courses start on


@dataclass(frozen=True, slots=True)
class RulesOverview:
    site: SiteRecord
    label: Label  # the version shown
    in_force: str | None  # the content hash a sign-off of it must carry (None: edited in place)
    versions: tuple[VersionInfo, ...]
    new_courses: str  # the version the site's new courses start on
    new_courses_set: tuple[str, datetime] | None  # who chose it, when (None: built-in default)
    signed: Mapping[str, SignedRule]
    signoffs: tuple[SignoffRecord, ...]  # every sign-off of the version, newest first
    names: Mapping[int, str]  # user id -> display name (signers, revokers)
    registered_hash: str | None  # the hash stored for the version shown


def rules_overview(uow: UnitOfWork, *, site_code: str, viewer: Scope,
                   label_version: str | None = None) -> RulesOverview:
    """Everything the Rules screen shows for a site: the versions (with how many of the
    site's courses started on each), the one shown (default: the one new courses start on),
    its rows, and the site's sign-offs of it."""
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        zone = zone_of(site)
        setting = uow.label.site_version(site.id, DRUG)  # type: ignore[arg-type]
        new_courses = LABEL_VERSION if setting is None else setting.label_version
        shown = label_version or new_courses
        label = _known_label(uow, shown, "label_version")
        stored = {v.id: v for v in uow.label.versions()}
        pinned = uow.label.pinned_courses(site.id)  # type: ignore[arg-type]
        signoffs = uow.label.signoffs(site.id, shown)  # type: ignore[arg-type]
        ids = {v.registered_by for v in stored.values()} | {s.signed_by for s in signoffs} | {
            s.revoked_by for s in signoffs} | ({setting.set_by} if setting else set())
        names: dict[int, str] = {}
        for i in ids:
            user = uow.users.get(i) if i is not None else None
            if i is not None and user is not None:
                names[i] = user.display_name
        signed = signed_rules(uow, site_id=site.id, label_version=shown, zone=zone)  # type: ignore[arg-type]
        in_force = hash_in_force(uow, shown)
    built_in = current_label()
    versions = []
    if LABEL_VERSION not in stored:
        versions.append(VersionInfo(LABEL_VERSION, built_in.drug, built_in.source,
                                    built_in.content_hash, None, None, None, True,
                                    pinned.get(LABEL_VERSION, 0), new_courses == LABEL_VERSION))
    for v in stored.values():
        versions.append(VersionInfo(
            v.id, v.drug, v.source, v.content_hash, v.base_version, v.registered_at,
            names.get(v.registered_by) if v.registered_by is not None else None,
            v.id == LABEL_VERSION, pinned.get(v.id, 0), new_courses == v.id))
    return RulesOverview(
        site=site, label=label, in_force=in_force, versions=tuple(versions),
        new_courses=new_courses,
        new_courses_set=None if setting is None else (
            names.get(setting.set_by, f"user {setting.set_by}"), setting.set_at),
        signed=signed, signoffs=tuple(sorted(signoffs, key=lambda s: s.id or 0, reverse=True)),
        names=names,
        registered_hash=stored[shown].content_hash if shown in stored else None)


# --------------------------------------------------------------------------- moving a course

#: Who moves an existing course to another label version: a physician's decision, per course.
MOVE_ROLES = frozenset({Role.PHYSICIAN})


@dataclass(frozen=True, slots=True)
class CourseVersionResult:
    course_id: int
    previous: str
    label_version: str
    status: str  # the course re-decided on its new version
    next_due_date: date | None


def move_course_to_version(uow: UnitOfWork, *, course_id: int, label_version: str, actor: str,
                           reason: str, password: str, password_check: PasswordCheck,
                           now: datetime) -> CourseVersionResult:
    """A physician of the course's site moves one existing course to another registered
    version of the same drug, saying why and re-entering their password (an e-signature of
    the decision). The course's version and the audit entry (versions before and after, the
    reason, who) are written together, and the course is re-decided on its new version;
    anything refused writes nothing. Another site's course is answered as one that does not
    exist."""
    now = aware(now, "now")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why this course moves to another label version")
    if len(reason) > _REASON_MAX:
        raise InvalidInput("reason", f"is too long ({_REASON_MAX} characters at most)")
    label_version = (label_version or "").strip()
    if not label_version:
        raise InvalidInput("label_version", "choose the version to move the course to")
    with uow:
        user = actor_with(uow, actor, MOVE_ROLES,
                          "move a course to another label version")
        course = course_or_404(uow, course_id, scope_of(user))  # the user's own site only
        if not password:
            raise InvalidInput("password", "re-enter your password to sign: nothing was "
                                           "changed")
        if not password_check(user.password_hash, password):
            raise InvalidInput("password", "is not your password: nothing was changed")
        ensure_label_version(uow, now)
        previous = course.label_version
        target = uow.label.version(label_version)
        if target is None:
            raise InvalidInput("label_version", f"{label_version!r} is not a registered label "
                                                "version")
        if label_version == previous:
            raise AlreadyRecorded("label_version", f"course {course_id} is already on "
                                                   f"{previous}: nothing changed")
        drug = _drug_of(uow, previous)
        if target.drug != drug:
            raise InvalidInput("label_version", f"{label_version} is a label of {target.drug}; "
                                                f"this course is of {drug}")
        label_of(uow, label_version)  # refuses a version whose stored rows cannot be used
        site = uow.sites.get(course.site_id)
        assert site is not None
        moved = uow.courses.update(dataclasses.replace(course, label_version=label_version,
                                                       updated_at=now))
        moved, _ = refresh_course(uow, moved, now, zone_of(site))
        audit.append(uow, actor=user.username, action="course.move_label_version",
                     entity_type="course", entity_id=course.id, at=now,
                     before={"label_version": previous, "status": course.status,
                             "next_due_date": course.next_due_date},
                     after={"site": site.code, "drug": drug, "label_version": label_version,
                            "reason": reason, "signature": "password re-entered",
                            "status": moved.status, "next_due_date": moved.next_due_date})
        uow.commit()
    return CourseVersionResult(course_id, previous, label_version, moved.status,
                               moved.next_due_date)


def _drug_of(uow: UnitOfWork, version: str) -> str:
    stored = uow.label.version(version)
    if stored is not None:
        return stored.drug
    return current_label().drug if version == LABEL_VERSION else DRUG


def versions_to_move_to(uow: UnitOfWork, *, course_id: int, viewer: Scope) -> tuple[str, ...]:
    """The registered versions of the course's drug it could move to (not its own), in the
    order registered; the built-in version too, should it not be registered yet."""
    with uow.readonly():
        course = course_or_404(uow, course_id, viewer)
        drug = _drug_of(uow, course.label_version)
        stored = uow.label.versions()
    ids = [v.id for v in stored if v.drug == drug]
    if LABEL_VERSION not in {v.id for v in stored} and current_label().drug == drug:
        ids.insert(0, LABEL_VERSION)
    return tuple(v for v in ids if v != course.label_version)
