"""Which base-URL form each popular client wants (from the seed relay's set-up guide)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# (client, form of the address, where it goes). Forms: root, v1, v1/ and chat (full endpoint).
CLIENTS = (
    ("NextChat (ChatGPT-Next-Web)", "root", _l("Settings → interface address, plus the key")),
    ("LangChain ChatOpenAI", "v1", "openai_api_base"),
    ("openai (Python SDK)", "v1/", "base_url"),
    ("requests / curl", "chat", _l("POST with the header Authorization: Bearer <key>")),
    ("LobeChat", "v1", _l("OpenAI proxy address")),
    ("ChatALL", "v1", _l("API base URL")),
    ("LibreChat", "v1", "OPENAI_REVERSE_PROXY (.env)"),
    ("ChatGPTBox / OpenAI Translator", "root", _l("Interface address")),
    ("Dooy-AI (chatgpt-web-midjourney-proxy)", "root", "OPENAI_API_BASE_URL"),
    ("沉浸式翻译 Immersive Translate", "chat", _l("Custom API address")),
    ("uTools ChatGPT.好友", "chat", _l("API address")),
    ("虚拟桌宠模拟器 VPet", "chat", _l("API address")),
    ("gpt_academic", "chat", "API_URL_REDIRECT"),
)

_FORMS = {"root": "", "v1": "/v1", "v1/": "/v1/", "chat": "/v1/chat/completions"}


def client_setup(base_url: str) -> list[dict]:
    """The address to type into each client for this relay."""
    return [
        {"client": name, "url": base_url + _FORMS[form], "where": where}
        for name, form, where in CLIENTS
    ]
