"""What a browser would post for a form on a page: its named controls' current values
(text, hidden, checked boxes, selected options, textareas), in document order."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._chosen: str | None = None
        self._first: str | None = None
        self._option: dict[str, str | None] | None = None
        self._option_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = self.form_id is None or a.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.pairs.append(
                (name, a.get("value") or ("on" if a.get("type") == "checkbox" else ""))
            )
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []
        elif tag == "select" and name:
            self._select, self._chosen, self._first = name, None, None
        elif tag == "option" and self._select is not None:
            self._option, self._option_text = a, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.pairs.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            value = self._option.get("value")
            value = value if value is not None else "".join(self._option_text).strip()
            if self._first is None:
                self._first = value
            if "selected" in self._option:
                self._chosen = value
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = self._chosen if self._chosen is not None else self._first
            self.pairs.append((self._select, chosen or ""))
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)
        if self._option is not None:
            self._option_text.append(data)


def form_fields(html: str, form_id: str | None = "job-form") -> dict[str, list[str]]:
    reader = _FormReader(form_id)
    reader.feed(html)
    out: dict[str, list[str]] = {}
    for name, value in reader.pairs:
        out.setdefault(name, []).append(value)
    return out
