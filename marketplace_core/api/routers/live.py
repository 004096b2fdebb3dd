"""The live channel: WebSocket `/chat/live` (chat, stock and the Buy button; see
marketplace_core.api.live for the protocol)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from marketplace_core.api import live

router = APIRouter(tags=["chat"])


@router.websocket("/chat/live")
async def chat_live(websocket: WebSocket) -> None:
    await live.serve(websocket)
