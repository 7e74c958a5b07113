"""Sites are walls: whose records a use case may read or change.

Every patient, course, dose, lab, adverse event, preparation, vial and rule sign-off belongs
to one site; a user belongs to at most one site (``users.site_id``). The rule:

- A user of a site reads and writes that site's records only. Another site's record is
  answered exactly as a record that does not exist: :class:`~tarla.services.errors.NotFound`
  (HTTP 404) with the same message, never a refusal that would confirm it exists.
- A user without a site (``site_id`` NULL) has no clinical site and sees no patient record
  anywhere. The one such user with work to do is an administrator of the whole installation,
  who manages the users of every site (:mod:`tarla.services.admin`); to see patients, they
  are given a site like anyone else.
- The operator at the command line (``tarla worklist``) holds the database itself and reads
  every site: :data:`OPERATOR`. No signed-in user ever has it. (``tarla demo-data`` writes
  as each demo site's own staff, so its records pass the same walls.)

Write use cases take the acting user's scope from their record (:func:`scope_of`); read use
cases take the viewer's :class:`Scope` as a required argument, so a caller cannot forget it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Scope", "OPERATOR", "scope_of"]


class _HasSite(Protocol):
    @property
    def site_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Scope:
    """The site whose records a reader or an actor may see (``site_id``; None: no site, so
    nothing), or every site (``every_site``: the operator only)."""

    site_id: int | None
    every_site: bool = False

    def covers(self, site_id: int | None) -> bool:
        if self.every_site:
            return True
        return self.site_id is not None and site_id == self.site_id


#: The command line's operator, who holds the database: every site.
OPERATOR = Scope(None, every_site=True)


def scope_of(user: _HasSite) -> Scope:
    """A user's scope: their own site, or nothing for a user without a site."""
    return Scope(user.site_id)
