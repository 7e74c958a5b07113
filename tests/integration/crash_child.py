"""Child process of the crash test: records one administration through the real use case and
stops dead at a chosen point, waiting to be killed with SIGKILL.

    python crash_child.py URL COURSE_ID MRN PREPARATION_ID READY_FILE before-commit|after-commit

The dose is charted as the bedside does it: the wristband (MRN) and the bag label scanned.

``before-commit``: everything is flushed to the database inside the open transaction
(administration, the bag's infusion start, course update, audit entry), then the process
announces READY and waits.
``after-commit``: the commit went through, then it announces and waits.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tarla.adapters.uow import SqlAlchemyUnitOfWork
from tarla.bootstrap import bootstrap
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.services import clinical


class PausingUnitOfWork(SqlAlchemyUnitOfWork):
    def __init__(self, factory, ready: Path, when: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(factory)
        self.ready, self.when = ready, when

    def _wait(self) -> None:
        self.ready.write_text("ready")
        while True:  # until SIGKILL
            time.sleep(1)

    def commit(self) -> None:
        if self.when == "before-commit":
            self.flush()
            self._wait()
        super().commit()
        self._wait()


def main() -> None:
    url, course_id, mrn, prep = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    ready, when = Path(sys.argv[5]), sys.argv[6]
    app = bootstrap(database_url=url)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    clinical.record_administration(PausingUnitOfWork(app.session_factory, ready, when),
                                   course_id=course_id, started_at=start, actor="rn.a",
                                   now=start + timedelta(hours=2),
                                   patient_scan=wristband_barcode(mrn),
                                   bag_scan=label_barcode(prep))


if __name__ == "__main__":
    main()
