"""The event every channel carries: facts plus bilingual (zh / en) lines. Pure."""

from __future__ import annotations

from datetime import datetime

# Sent from the poller, where no request (and so no viewer language) exists: both languages.
TITLES = {
    "low_balance": "余额不足 / Low balance",
    "expiring": "即将过期 / Key expires soon",
    "status": "密钥不可用 / Key stopped working",
    "recovered": "已恢复 / Recovered",
    "test": "测试消息 / Test message",
}
CONDITIONS = {
    "low_balance": "余额不足 / low balance",
    "expiring": "即将过期 / expiring soon",
    "status": "密钥不可用 / key not working",
}
STATUSES = {
    "active": "正常 / active",
    "exhausted": "已用尽 / used up",
    "expired": "已过期 / expired",
    "disabled": "已禁用 / disabled",
    "invalid": "无效 / invalid",
    "refused": "被中转站拒绝，原因未说明 / refused, reason not stated",
}


def key_event(
    event: str,
    *,
    key: dict,
    at: datetime,
    condition: str | None = None,
) -> dict:
    """The event for one key: `key` holds masked_key, label, provider, status, remaining, …"""
    data = {
        "source": "relaydash",
        "event": event,
        "condition": condition or event,
        "at": at.isoformat(),
        **key,
    }
    data["title"] = f"【relaydash】{TITLES[event]}"
    data["lines"] = _lines(event, data)
    data["message"] = "\n".join([data["title"], *data["lines"]])
    return data


def test_event(channel_name: str, at: datetime) -> dict:
    """What the "send test" button sends: no key at all."""
    data = {"source": "relaydash", "event": "test", "condition": None, "at": at.isoformat()}
    data["title"] = f"【relaydash】{TITLES['test']}"
    data["lines"] = [
        f"渠道 / Channel: {channel_name}",
        "此渠道可以收到 relaydash 的提醒 / This channel receives relaydash alerts.",
    ]
    data["message"] = "\n".join([data["title"], *data["lines"]])
    return data


def _lines(event: str, data: dict) -> list[str]:
    lines = [f"密钥 / Key: {data['label']} ({data['masked_key']}) · {data['provider']}"]
    if event == "recovered":
        lines.append(f"已解除 / Cleared: {CONDITIONS.get(data['condition'], data['condition'])}")
    status = data.get("status")
    if status:
        lines.append(f"状态 / Status: {STATUSES.get(status, status)}")
    if data.get("remaining") is not None:
        lines.append(f"剩余 / Remaining: {_money(data['remaining'], data.get('unit'))}")
    if data.get("threshold") is not None and data["condition"] == "low_balance":
        lines.append(f"阈值 / Threshold: {_money(data['threshold'], data.get('unit'))}")
    if data.get("expires_at") and data["condition"] in ("expiring", "status"):
        lines.append(f"到期 / Expires: {data['expires_at'][:16].replace('T', ' ')} UTC")
    return lines


def _money(value: float, unit: str | None) -> str:
    return f"{value:,.2f} {unit or ''}".strip()


def status_event(
    provider: str, model: str, old: str, new: str, cause: str | None, at: datetime
) -> dict:
    """A provider's (or a model's on it) state change: title and lines in both languages."""
    icon = {"up": "✅", "degraded": "⚠️", "down": "🔴"}.get(new, "•")
    what = f"{provider} · {model}" if model else provider
    lines = [
        f"{old} → {new}",
        f"原因 cause: {cause}" if cause else "",
        f"时间 at: {at.strftime('%Y-%m-%d %H:%M:%S')} UTC",
    ]
    return {
        "event": f"status_{new}",
        "title": f"{icon} {what}: {new}",
        "lines": [line for line in lines if line],
        "provider": provider,
        "model": model,
        "state": new,
        "previous": old,
        "cause": cause,
        "at": at.isoformat(),
    }
