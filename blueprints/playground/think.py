"""Split a leading <think>…</think> out of streamed content (relays that fold reasoning into it)."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Feed content pieces; get (reasoning, content) back as soon as each is certain."""

    def __init__(self) -> None:
        self.state = "start"  # "start" (undecided) → "think" → "content"
        self.buffer = ""

    def feed(self, text: str) -> tuple[str, str]:
        """The reasoning and content that this piece (with what was held back) settles."""
        if self.state == "content":
            return "", text
        self.buffer += text
        if self.state == "start":
            head = self.buffer.lstrip()
            if len(head) < len(OPEN) and OPEN.startswith(head):
                return "", ""  # could still become "<think>": hold it back
            if not head.startswith(OPEN):
                self.state, out, self.buffer = "content", self.buffer, ""
                return "", out
            self.state, self.buffer = "think", head[len(OPEN) :]
        end = self.buffer.find(CLOSE)
        if end >= 0:
            reasoning, rest = self.buffer[:end], self.buffer[end + len(CLOSE) :]
            self.state, self.buffer = "content", ""
            return reasoning, rest.lstrip("\n")
        # Keep back a tail that might be the start of "</think>".
        keep = next((n for n in range(len(CLOSE) - 1, 0, -1) if self.buffer.endswith(CLOSE[:n])), 0)
        settled = self.buffer[: len(self.buffer) - keep]
        self.buffer = self.buffer[len(settled) :]
        return settled, ""

    def flush(self) -> tuple[str, str]:
        """Whatever is still held back when the stream ends."""
        rest, self.buffer = self.buffer, ""
        if self.state == "think":
            return rest, ""
        self.state = "content"
        return "", rest
