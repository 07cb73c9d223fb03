"""The Recordings resource and recording downloads.

Metadata (Twilio's shape, every key the classic SignalWire SDK reads):
    /2010-04-01/Accounts/{sid}/Recordings.json                       list (DateCreated, DateCreated<,
    /2010-04-01/Accounts/{sid}/Recordings/{RecordingSid}.json          DateCreated>, CallSid filters),
    /2010-04-01/Accounts/{sid}/Calls/{CallSid}/Recordings.json         fetch, delete (files too)
    /2010-04-01/Accounts/{sid}/Calls/{CallSid}/Recordings/{RecordingSid}.json
Media (HTTP Range; 202 while a file is still being made):
    /2010-04-01/Accounts/{sid}/Recordings/{RecordingSid}[.wav|.mp3]   Twilio's; no extension: WAV
    /recordings/{RecordingSid}.wav|.mp3                               seed 001's short URLs
    /recordings/call/{CallSid}.wav|.mp3                               the call's first completed one
The API prefixes (/2010-04-01, /api/laml/2010-04-01) apply to the first two groups. Whether
downloads need Basic auth is the project's `media_auth`: "api" (default: the API path only),
"all" or "none".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from wirexa.api import errors as E
from wirexa.api.call_json import API_VERSION, account_uri
from wirexa.api.call_params import _time_filters
from wirexa.api.calls import json_response
from wirexa.api.context import ApiContext
from wirexa.api.errors import ApiError, not_found
from wirexa.api.forms import Params
from wirexa.api.paging import PageRequest, list_page
from wirexa.api.routing import Handler, Resource, resource
from wirexa.clock import rfc2822
from wirexa.recordings.service import RecordingService, duration_seconds
from wirexa.store import recordings as rs
from wirexa.store.recordings import RecordingFilter, RecordingRow, RecordingStore

CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def recording_json(row: RecordingRow, service: RecordingService) -> dict[str, Any]:
    base = f"{account_uri(row['account_sid'])}/Recordings/{row['sid']}"
    in_progress = row["status"] == rs.IN_PROGRESS
    return {
        "account_sid": row["account_sid"],
        "api_version": API_VERSION,
        "call_sid": row["call_sid"],
        "conference_sid": row["conference_sid"],
        "date_created": rfc2822(row["date_created"]),
        "date_updated": rfc2822(row["date_updated"]),
        "start_time": rfc2822(row["start_time"]),
        "duration": "-1" if in_progress else str(duration_seconds(row["duration_ms"])),
        "sid": row["sid"],
        "price": None,
        "price_unit": "USD",
        "status": row["status"],
        "channels": int(row["channels"]),
        "source": row["source"],
        "error_code": row["error_code"],
        "track": row["track"],
        "uri": f"{base}.json",
        "media_url": service.media_url(row["account_sid"], row["sid"]),
        "encryption_details": None,
        "subresource_uris": {
            "add_on_results": f"{base}/AddOnResults.json",
            "transcriptions": f"{base}/Transcriptions.json",
        },
    }


def parse_filter(params: Params, call_sid: str | None = None) -> RecordingFilter:
    created = _time_filters(params, "DateCreated")
    return RecordingFilter(
        call_sid=call_sid or params.get("CallSid") or None,
        date_created_eq=created.get("eq"),
        date_created_after=created.get("after"),
        date_created_before=created.get("before"),
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as (start, end inclusive); None to send the whole file (no
    header, several ranges, or a malformed one). Raises ApiError 416 when unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        n = int(last)
        start, end = max(0, size - n), size - 1
        if n == 0:
            start = size
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ApiError(416, E.INVALID_PARAMETER, f"Range {header} is not satisfiable for {size} bytes",
                       headers={"Content-Range": f"bytes */{size}"})
    return start, end


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    try:
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _processing(row: RecordingRow) -> Response:
    """Seed 001: 202 while the file is still being made."""
    what = "recording is still in progress" if row["status"] == rs.IN_PROGRESS else "MP3 is still being made"
    message = f"Recording {row['sid']}: the {what}; try again shortly"
    response = json_response({"status": 202, "recording_status": row["status"], "message": message,
                              "detail": message}, 202)
    response.headers["Retry-After"] = "1"
    return response


async def serve_media(request: Request, service: RecordingService, row: RecordingRow, ext: str) -> Response:
    """The recording's WAV or MP3, whole or the Range asked for."""
    status = row["status"]
    if status == rs.IN_PROGRESS or (status == rs.PROCESSING and ext == "mp3"):
        return _processing(row)
    if status == rs.ABSENT:
        raise not_found(request.url.path)
    size = await asyncio.to_thread(service.storage.size, row["sid"], ext)
    if size is None:
        raise not_found(request.url.path)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{row["sid"]}-{ext}-{size}"',
        "Content-Disposition": f'inline; filename="{row["sid"]}.{ext}"',
        "Cache-Control": "private, max-age=3600",
    }
    span = parse_range(request.headers.get("range"), size)
    start, end = span if span is not None else (0, size - 1)
    length = end - start + 1 if size else 0
    headers["Content-Length"] = str(length)
    status_code = 200
    if span is not None:
        status_code = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD" or length == 0:
        return Response(b"", status_code=status_code, headers=headers, media_type=CONTENT_TYPES[ext])
    chunks = service.storage.read(row["sid"], ext, start, length)
    return StreamingResponse(_stream(chunks), status_code=status_code, headers=headers,
                             media_type=CONTENT_TYPES[ext])


def _media_auth(ctx: ApiContext, account_sid: str) -> str:
    project = ctx.authenticator.lookup(account_sid)
    return (project.media_auth if project is not None else None) or "api"


def recordings_routes(ctx: ApiContext) -> list[Resource]:
    """Routes relative to an API prefix (`/2010-04-01` or `/api/laml/2010-04-01`)."""

    def service() -> RecordingService:
        if ctx.recordings is None:
            raise ApiError(503, 20503, "Recordings are not available on this node")
        return ctx.recordings

    def store() -> RecordingStore:
        return service().store

    def load(request: Request, account_sid: str, sid: str, call_sid: str | None = None) -> RecordingRow:
        row = store().get(account_sid, sid)
        if row is None or (call_sid is not None and row["call_sid"] != call_sid):
            raise not_found(request.url.path)
        return row

    def lister(by_call: bool) -> Handler:
        async def list_recordings(request: Request) -> Response:
            account_sid = request.path_params["account_sid"]
            project = ctx.authorize(request, account_sid)
            call_sid = request.path_params["call_sid"] if by_call else None
            params = Params.from_query(request.url.query)
            flt = parse_filter(params, call_sid)
            req = PageRequest.parse(params)
            svc = service()
            path = f"/Calls/{call_sid}/Recordings.json" if by_call else "/Recordings.json"
            page = list_page(
                "recordings", f"{account_uri(project.sid)}{path}", params, req,
                lambda limit: svc.store.page(project.sid, flt, limit, before_id=req.before_id,
                                             after_id=req.after_id, offset=req.offset),
                lambda row: recording_json(row, svc),
            )
            return json_response(page)
        return list_recordings

    def fetcher(by_call: bool) -> Handler:
        async def fetch_recording(request: Request) -> Response:
            account_sid = request.path_params["account_sid"]
            project = ctx.authorize(request, account_sid)
            row = load(request, project.sid, request.path_params["recording_sid"],
                       request.path_params["call_sid"] if by_call else None)
            return json_response(recording_json(row, service()))
        return fetch_recording

    def deleter(by_call: bool) -> Handler:
        async def delete_recording(request: Request) -> Response:
            account_sid = request.path_params["account_sid"]
            project = ctx.authorize(request, account_sid)
            row = load(request, project.sid, request.path_params["recording_sid"],
                       request.path_params["call_sid"] if by_call else None)
            if row["status"] in rs.UNFINISHED:
                raise ApiError(400, E.INVALID_PARAMETER,
                               f"Recording {row['sid']} is {row['status']}; it can be deleted once it is completed")
            svc = service()
            await svc.batcher.run(partial(svc.store.delete, project.sid, row["sid"]))
            await svc.delete_files(row["sid"])
            return Response(status_code=204)
        return delete_recording

    def media(ext: str | None) -> Handler:
        async def download(request: Request) -> Response:
            account_sid, sid = request.path_params["account_sid"], request.path_params["recording_sid"]
            if ext is None and "." in sid:  # /Recordings/RE....json and the like are not media
                raise not_found(request.url.path)
            if _media_auth(ctx, account_sid) in ("api", "all"):
                ctx.authorize(request, account_sid)
            return await serve_media(request, service(), load(request, account_sid, sid), ext or "wav")
        return download

    account = "/Accounts/{account_sid}"
    return [
        resource(f"{account}/Recordings.json", {"GET": lister(False)}),
        resource(f"{account}/Recordings/{{recording_sid}}.json", {"GET": fetcher(False), "DELETE": deleter(False)}),
        resource(f"{account}/Calls/{{call_sid}}/Recordings.json", {"GET": lister(True)}),
        resource(f"{account}/Calls/{{call_sid}}/Recordings/{{recording_sid}}.json",
                 {"GET": fetcher(True), "DELETE": deleter(True)}),
        resource(f"{account}/Recordings/{{recording_sid}}.wav", {"GET": media("wav"), "HEAD": media("wav")}),
        resource(f"{account}/Recordings/{{recording_sid}}.mp3", {"GET": media("mp3"), "HEAD": media("mp3")}),
        resource(f"{account}/Recordings/{{recording_sid}}", {"GET": media(None), "HEAD": media(None)}),
    ]


def public_recording_routes(ctx: ApiContext) -> list[Resource]:
    """The short download URLs (seed 001), outside the API prefixes. Recording SIDs are
    unguessable, so these need no auth unless the project's media_auth is "all"."""

    def service() -> RecordingService:
        if ctx.recordings is None:
            raise ApiError(503, 20503, "Recordings are not available on this node")
        return ctx.recordings

    async def send(request: Request, row: RecordingRow | None, ext: str) -> Response:
        if row is None:
            raise not_found(request.url.path)
        if _media_auth(ctx, row["account_sid"]) == "all":
            ctx.authorize(request, row["account_sid"])
        return await serve_media(request, service(), row, ext)

    def by_sid(ext: str) -> Handler:
        async def download(request: Request) -> Response:
            return await send(request, service().store.get_by_sid(request.path_params["recording_sid"]), ext)
        return download

    def by_call(ext: str) -> Handler:
        async def download(request: Request) -> Response:
            call_sid = request.path_params["call_sid"]
            store = service().store
            # The first completed recording; while none is, the first one (202 while it is made).
            return await send(request, store.first_completed_for_call(call_sid) or store.first_for_call(call_sid), ext)
        return download

    routes = []
    for ext in ("wav", "mp3"):
        routes.append(resource(f"/recordings/call/{{call_sid}}.{ext}", {"GET": by_call(ext), "HEAD": by_call(ext)}))
        routes.append(resource(f"/recordings/{{recording_sid}}.{ext}", {"GET": by_sid(ext), "HEAD": by_sid(ext)}))
    return routes
