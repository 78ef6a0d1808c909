"""Tool calls on /v1/chat/completions: what a request allows, and how the conversation
(tools, earlier calls, their results) is written into the prompt.

A template that writes the ``tools`` it is given (ChatTemplate.renders_tools) gets
OpenAI's shapes as they are, and presents them the way its model was trained on. The
others (AMALIA's ChatML, SmolLM2's) get a generic format: the tools described in the
system prompt, each call written as

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Lisboa"}}
    </tool_call>

(the Hermes/Qwen convention, common in open models' tuning data), and each result
given back in a ``<tool_response>`` block of a user turn. The answer is held to the same
call format by tool_grammar.py, and read back by tool_output.py; an earlier call sent
back by the client is written exactly as the model wrote it, so the prompt's prefix
still matches the cells that hold it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from amalia_local.engine.template import ChatTemplate, Message
from amalia_local.server import errors
from amalia_local.server.schemas import ChatCompletionRequest, ChatMessage, Tool

# The call format; tool_grammar.py and tool_output.py spell it from these.
CALL_OPEN = '<tool_call>\n{"name": "'
ARGS_OPEN = '", "arguments": '
CALL_CLOSE = "\n</tool_call>"  # after the "}" that closes the call's object
CALL_SEPARATOR = "\n"

# "developer" is the newer OpenAI name for a system message; templates know "system".
_ROLES = {"developer": "system"}


@dataclass(frozen=True)
class ToolPlan:
    """The tools of a request and what the answer may do with them."""

    tools: list[Tool]
    choice: str  # "auto", "required", "none", or "function" (the one named)
    name: str | None = None  # the function tool_choice names
    parallel: bool = True  # several calls in one answer

    @property
    def calls(self) -> bool:
        """Whether the answer may hold calls (not with ``none``)."""
        return self.choice != "none"

    def callable_tools(self) -> list[Tool]:
        return [t for t in self.tools if self.name is None or t.function.name == self.name]


def tool_plan(body: ChatCompletionRequest) -> ToolPlan | None:
    """The request's tool plan, None without tools; 400s for choices that cannot be met."""
    choice = body.tool_choice
    if not body.tools:
        if choice is not None and choice not in ("none", "auto"):
            raise errors.bad_request(
                "tool_choice asks for a tool call, but the request has no tools.",
                param="tool_choice",
            )
        return None
    names = [tool.function.name for tool in body.tools]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise errors.bad_request(
                f"Two tools are named '{name}'.", param=f"tools.{i}.function.name"
            )
    parallel = body.parallel_tool_calls is not False
    if choice is None or isinstance(choice, str):
        return ToolPlan(body.tools, choice or "auto", parallel=parallel)
    if choice.function.name not in names:
        raise errors.bad_request(
            f"tool_choice names '{choice.function.name[:64]}', which is not among the tools.",
            param="tool_choice.function.name",
        )
    return ToolPlan(body.tools, "function", choice.function.name, parallel=False)


def format_call(name: str, arguments: str) -> str:
    return CALL_OPEN + name + ARGS_OPEN + arguments + "}" + CALL_CLOSE


def render_chat(template: ChatTemplate, messages: list[ChatMessage], plan: ToolPlan | None) -> str:
    """The prompt of a conversation; without tools in it, exactly as before tools existed."""
    uses_tools = plan is not None or any(m.role == "tool" or m.tool_calls for m in messages)
    if not uses_tools:
        return template.render(
            [Message(_ROLES.get(m.role, m.role), m.text()) for m in messages],
            add_generation_prompt=True,
        )
    if template.renders_tools:
        return _render_native(template, messages, plan)
    return template.render(_generic_messages(messages, plan), add_generation_prompt=True)


def _render_native(
    template: ChatTemplate, messages: list[ChatMessage], plan: ToolPlan | None
) -> str:
    names = _call_names(messages)
    dicts: list[dict[str, Any]] = []
    for m in messages:
        entry: dict[str, Any] = {"role": _ROLES.get(m.role, m.role), "content": m.text()}
        if m.tool_calls:
            entry["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.function.name,
                        "arguments": _arguments_object(call.function.arguments),
                    },
                }
                for call in m.tool_calls
            ]
        if m.role == "tool":
            entry["tool_call_id"] = m.tool_call_id
            entry["name"] = m.name or names.get(m.tool_call_id or "", "")
        dicts.append(entry)
    tools = None
    if plan is not None:
        tools = [tool.model_dump(exclude_none=True) for tool in plan.tools]
    return template.render_dicts(dicts, tools=tools)


def _arguments_object(arguments: str) -> Any:
    """Templates iterate over arguments as a mapping (transformers' convention); text
    that is not a JSON object is passed as it is."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def _generic_messages(messages: list[ChatMessage], plan: ToolPlan | None) -> list[Message]:
    names = _call_names(messages)
    out: list[Message] = []
    for m in messages:
        role = _ROLES.get(m.role, m.role)
        if m.role == "tool":
            name = m.name or names.get(m.tool_call_id or "", "")
            block = f'<tool_response name="{name}">\n{m.text()}\n</tool_response>'
            if out and out[-1].role == "user" and out[-1].content.endswith("</tool_response>"):
                out[-1] = Message("user", out[-1].content + "\n" + block)
            else:
                out.append(Message("user", block))
        elif m.tool_calls:
            calls = CALL_SEPARATOR.join(
                format_call(c.function.name, c.function.arguments) for c in m.tool_calls
            )
            text = m.text()
            out.append(Message(role, f"{text}\n{calls}" if text else calls))
        else:
            out.append(Message(role, m.text()))
    if plan is not None:
        guide = _tools_guide(plan)
        if out and out[0].role == "system":
            out[0] = Message("system", f"{out[0].content}\n\n{guide}")
        else:
            out.insert(0, Message("system", guide))
    return out


def _call_names(messages: list[ChatMessage]) -> dict[str, str]:
    """Call id -> function name, for tool messages that give only the id (OpenAI's)."""
    return {
        call.id: call.function.name
        for m in messages
        for call in m.tool_calls or []
    }  # fmt: skip


def _tools_guide(plan: ToolPlan) -> str:
    """The generic format explained to a model whose template has no tool support.

    The same words whatever ``tool_choice`` and ``parallel_tool_calls`` say (the
    grammar enforces them), so the
    system prompt, and every turn after it, stays a cached prefix from one request of
    a conversation to the next (an agent often asks for its last answer with "none")."""
    lines = "\n".join(
        json.dumps(tool.model_dump(exclude_none=True), ensure_ascii=False) for tool in plan.tools
    )
    return (
        "# Tools\n\nYou can call functions to help with the user's request. "
        "Their definitions (JSON Schema), one per line:\n"
        f"<tools>\n{lines}\n</tools>\n\n"
        "To call a function, answer with nothing but this block:\n"
        + format_call("<function name>", "<arguments as a JSON object>")
        + "\nWrite one block per call. If no function is needed, answer the user directly instead. "
        "Each result comes back to you in a <tool_response> block: then answer the "
        "user with it."
    )
