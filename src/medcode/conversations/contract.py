"""The v1 contract's answer shape, shared by the API and `medcode ask --json` (pure: no Django)."""

from __future__ import annotations


def api_shape(answer, conversation_id=None) -> dict:
    """{"answer","citations":[{"source","ref","url"}],"codes":[{"system","code","valid"}],"conversation"}"""
    return {"answer": answer.markdown,
            "citations": [{"source": c.source, "ref": c.ref, "url": c.url} for c in answer.citations],
            "codes": [{"system": c.system, "code": c.code, "valid": bool(c.valid)} for c in answer.codes],
            "conversation": str(conversation_id) if conversation_id else None}
