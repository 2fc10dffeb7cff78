"""A calendar date as input files write it: a YAML date or the text YYYY-MM-DD, nothing pydantic would also read.

pydantic's ``date`` reads 1893456000, and the text "1893456000", as seconds since 1970: a waiver's ``expires`` or a
sign-off's ``date`` typed as a number would then be a date nobody wrote (a waiver in force until 2030).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
#: a value that is not a calendar date (template: value)
NOT_A_DATE = "must be a date written YYYY-MM-DD, not {value}"


def _iso_only(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO.fullmatch(value.strip()):
        return value.strip()
    raise PydanticCustomError("not_a_date", NOT_A_DATE, {"value": repr(value)})


#: a date field of an input file (waivers, sign-offs, provenance periods)
IsoDate = Annotated[dt.date, BeforeValidator(_iso_only)]
