"""Development write endpoint of the single node: append raw entries to the log."""

import base64
import binascii

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.problems import Problem
from node.devnode import DevNode

MAX_ENTRY_BYTES = 64 * 1024


class NewEntry(BaseModel):
    data: str = Field(description="standard base64 of the leaf bytes", max_length=90_000)


class Appended(BaseModel):
    leaf_index: int
    tree_size: int


router = APIRouter(prefix="/v1", tags=["development"])


@router.post("/entries", response_model=Appended, status_code=201)
def post_entry(request: Request, entry: NewEntry) -> Appended:
    try:
        data = base64.b64decode(entry.data, validate=True)
    except binascii.Error as exc:
        raise Problem(400, "bad-base64", "data is not standard base64") from exc
    if not 0 < len(data) <= MAX_ENTRY_BYTES:
        raise Problem(400, "bad-entry-size", f"an entry holds 1 to {MAX_ENTRY_BYTES} bytes")
    node: DevNode = request.app.state.node
    index, size = node.append([data])
    return Appended(leaf_index=index, tree_size=size)
