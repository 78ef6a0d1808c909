"""Chat templates: the one stored in the GGUF, rendered safely, or ChatML when absent.

Templates are Jinja code shipped inside model files downloaded from strangers, so they
run in Jinja's immutable sandbox: they can format text but not touch Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn

# jinja2 is imported where a template is compiled, not here: Message is used by the
# client mode and the converter too, which never render a template in this process.
from amalia_local.errors import ModelFileError

# AMALIA and EuroLLM are trained on ChatML; files converted without a template still
# understand it, so it is the right fallback for them (and harmless for the rest).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CHATML_END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


def _raise_exception(message: str) -> NoReturn:
    from jinja2 import TemplateError

    raise TemplateError(message)


def _strftime_now(fmt: str) -> str:
    from datetime import datetime  # only templates that print today's date ask

    return datetime.now().strftime(fmt)


class ChatTemplate:
    """Compiled chat template plus the special-token text it may refer to."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self.is_fallback = not source
        self.source = source or CHATML_TEMPLATE
        self.bos_token = bos_token
        self.eos_token = eos_token
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(self.source)
        except TemplateError as exc:
            raise ModelFileError("error.template_invalid", reason=str(exc)) from exc

    def render(self, messages: list[Message], *, add_generation_prompt: bool = True) -> str:
        return self.render_dicts(
            [m.as_dict() for m in messages], add_generation_prompt=add_generation_prompt
        )

    def render_dicts(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> str:
        """Render messages as the template's authors wrote them: with ``tool_calls`` and
        ``tool`` roles, and ``tools`` (OpenAI's shapes), for templates that read them."""
        from jinja2 import TemplateError  # loaded by __init__ already: a dict lookup

        extra = {"tools": tools} if tools is not None else {}
        try:
            return self._template.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                **extra,
            )
        except TemplateError as exc:
            raise ModelFileError("error.template_failed", reason=str(exc)) from exc

    @cached_property
    def renders_tools(self) -> bool:
        """Whether the template writes the ``tools`` it is given into the prompt (then it
        has its own way of presenting them, which the model was trained on). Found by
        rendering a probe tool, as a template may mention ``tools`` and ignore them."""
        probe = "amalia_probe_tool_7f3e"
        tool = {"type": "function", "function": {"name": probe, "parameters": {}}}
        try:
            text = self.render_dicts([{"role": "user", "content": "?"}], tools=[tool])
        except ModelFileError:
            return False
        return probe in text
