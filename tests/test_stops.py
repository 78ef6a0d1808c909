"""Stop strings that arrive split across chunks (engine/stops.py)."""

from __future__ import annotations

from amalia_local.engine.stops import StopMatcher


def feed_all(matcher: StopMatcher, chunks: list[str]) -> tuple[str, bool]:
    shown = []
    for chunk in chunks:
        text, stopped = matcher.feed(chunk)
        shown.append(text)
        if stopped:
            return "".join(shown), True
    return "".join(shown) + matcher.flush(), False


def test_stop_split_across_chunks_is_never_shown():
    assert feed_all(StopMatcher(("END",)), ["one E", "N", "D two"]) == ("one ", True)


def test_almost_a_stop_is_released():
    assert feed_all(StopMatcher(("END",)), ["one E", "N", "x"]) == ("one ENx", False)
    assert feed_all(StopMatcher(("END",)), ["tail E"]) == ("tail E", False)


def test_earliest_of_several_stops_wins():
    assert feed_all(StopMatcher(("b", "a")), ["xxab"]) == ("xx", True)


def test_without_stops_text_passes_at_once():
    matcher = StopMatcher()
    assert matcher.feed("E") == ("E", False)
