"""Model-card facts (``card.yaml``) and the Markdown card's YAML front matter.

The facts are what a team knows and a measurement cannot: owners, intended use, data, ethics. They follow
the sections of "Model Cards for Model Reporting" (Mitchell et al. 2019) and the Hugging Face model card.
Quantitative sections are never typed here: the renderers fill them from the evidence. Every fact is
optional; a missing one renders as ``[More Information Needed]``, so a gap is never silent.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from .yamlfile import InputModel, load_model_file, version_text

#: what a document shows for a fact the card does not give (the Hugging Face template's wording)
MISSING = "[More Information Needed]"


def _as_list(value: Any) -> Any:
    """Let a list-valued fact be written as one string."""
    if isinstance(value, str):
        return [value]
    return value


#: the card named by the manifest (card:) or by --card is not there (template: path)
CARD_NOT_FOUND = "card file not found: {path}"

class _Facts(InputModel):
    pass


class Pruning(_Facts):
    method: str | None = Field(None, description="e.g. 'global magnitude pruning (torch.nn.utils.prune)'")
    target_sparsity: float | None = Field(None, ge=0, le=1, description="fraction of weights set to zero")
    scope: str | None = Field(None, description="which tensors were pruned, e.g. 'all Linear weights'")
    fine_tuning: str | None = Field(None, description="what was done after pruning (fine-tuning, none)")


class ModelDetails(_Facts):
    name: str | None = Field(None, description="default: the release name")
    description: str | None = None
    owners: list[str] = Field(default_factory=list, description="people or team responsible")
    contact: str | None = None
    license: str | None = Field(None, description="a Hugging Face license id, e.g. apache-2.0")
    version: str | None = Field(None, description="default: the release version")
    date: dt.date | str | None = None
    base_model: str | None = Field(None, description="the model the baseline is (or derives from)")
    architecture: str | None = None
    pruning: Pruning = Field(default_factory=Pruning)
    references: list[str] = Field(default_factory=list)
    citation: str | None = None

    lists_from_text = field_validator("owners", "references", mode="before")(_as_list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return version_text(v)

    @field_validator("date", mode="before")
    @classmethod
    def _real_date(cls, v: Any) -> Any:
        """Free text ("spring 2026") is kept; what is written as YYYY-MM-DD must be a day that exists."""
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
            try:
                return dt.date.fromisoformat(v.strip())
            except ValueError:
                raise PydanticCustomError("no_such_day", "{day} is not a day that exists", {"day": v.strip()}) from None
        return v


class IntendedUse(_Facts):
    primary_uses: list[str] = Field(default_factory=list)
    primary_users: list[str] = Field(default_factory=list)
    out_of_scope_uses: list[str] = Field(default_factory=list)

    lists_from_text = field_validator("primary_uses", "primary_users", "out_of_scope_uses", mode="before")(_as_list)


class Factors(_Facts):
    relevant: list[str] = Field(default_factory=list, description="groups, instruments, environments that matter")
    evaluation: list[str] = Field(default_factory=list, description="which of them were evaluated, and why")

    lists_from_text = field_validator("relevant", "evaluation", mode="before")(_as_list)


class DataFacts(_Facts):
    description: str | None = None
    datasets: list[str] = Field(default_factory=list, description="dataset names or Hugging Face dataset ids")
    preprocessing: str | None = None
    motivation: str | None = None

    lists_from_text = field_validator("datasets", mode="before")(_as_list)


class CardFacts(_Facts):
    """The content of ``card.yaml``. Unknown keys are an error (exit 2), naming file, field and line."""

    model_details: ModelDetails = Field(default_factory=ModelDetails)
    intended_use: IntendedUse = Field(default_factory=IntendedUse)
    factors: Factors = Field(default_factory=Factors)
    training_data: DataFacts = Field(default_factory=DataFacts)
    evaluation_data: DataFacts = Field(default_factory=DataFacts)
    ethical_considerations: list[str] = Field(default_factory=list)
    caveats_and_recommendations: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="extra Hugging Face tags ('pruned' and/or "
                                                            "'quantized', from the provenance, is always added)")
    language: list[str] = Field(default_factory=list)

    lists_from_text = field_validator("ethical_considerations", "caveats_and_recommendations", "limitations", "tags",
                             "language", mode="before")(_as_list)


def load_card(path: str | Path) -> CardFacts:
    """Read and validate a ``card.yaml``; problems are an InputError naming file, field and line."""
    return load_model_file(Path(path), CardFacts, what="model card")


# --- the Markdown card's front matter --------------------------------------------------------------
#: the front-matter block: the same expression the Hugging Face Hub uses (huggingface_hub.repocard)
FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


class _FrontMatterDumper(yaml.SafeDumper):
    """Strings holding ``<`` or ``>`` are double-quoted, so those characters can be written as YAML escapes."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "<" in value or ">" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_FrontMatterDumper.add_representer(str, _represent_str)


def dump_front_matter(data: dict[str, Any]) -> str:
    """YAML for the front matter, in insertion order, as huggingface_hub writes it.

    No raw HTML reaches the card: every ``<`` and ``>`` is inside a double-quoted scalar (see the dumper) and is
    written as the YAML escape ``\\x3C`` / ``\\x3E``, which loads back as the same character."""
    text = yaml.dump(data, Dumper=_FrontMatterDumper, sort_keys=False, allow_unicode=True).strip()
    return text.replace("<", "\\x3C").replace(">", "\\x3E")


class MarkdownCard:
    """A Markdown document with YAML front matter: split with one regex, rebuilt in the original key order."""

    def __init__(self, data: dict[str, Any], text: str) -> None:
        self.data = data
        self.text = text

    @classmethod
    def loads(cls, content: str) -> MarkdownCard:
        match = FRONT_MATTER.search(content)
        if not match:
            return cls({}, content)
        data = yaml.safe_load(match.group(2)) or {}
        if not isinstance(data, dict):
            raise ValueError("the model card's front matter is not a YAML mapping")
        return cls(data, content[match.end():])

    def __str__(self) -> str:
        return f"---\n{dump_front_matter(self.data)}\n---\n{self.text}"
