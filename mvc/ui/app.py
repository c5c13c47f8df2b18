"""The Starlette application: one route per page, each a read through `mvc.api`.

Handlers are plain functions, which Starlette runs on its thread pool; each request opens
its own `Api` on the store (a few milliseconds), so a page always shows the store as it is
now (another process may have logged a version since the last click) and no pygit2 object
is shared between threads.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import InvalidNameError, MvcError, NotFoundError, UsageError
from ..names import check_name, check_project, is_version_name
from . import graph, views
from .guard import Guard

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Settings:
    store: str            # the store's folder (absolute)
    project: str | None   # the default project, as `--project`
    token: str
    port: int
    write: bool = False


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(os.path.join(HERE, "templates")), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["size"] = views.human_size
    env.filters["when"] = views.when
    env.globals.update(href=views.href, artifact_href=views.artifact_href, run_href=views.run_href,
                       address_href=views.address_href)
    return env


def create_app(settings: Settings):
    """The app behind its Guard (Host, token, read-only)."""
    env = templates()

    def api():
        from ..api import Api
        return Api(settings.store, settings.project)

    def page(template: str, request: Request, status: int = 200, **data) -> HTMLResponse:
        html = env.get_template(template).render(request_path=request.url.path, write=settings.write,
                                             token=settings.token if settings.write else "", **data)
        return HTMLResponse(html, status_code=status)

    def handler(fn, template: str):
        def endpoint(request: Request):
            try:
                check_params(request.path_params)
                return page(template, request, **fn(api(), request.path_params, request))
            except MvcError as err:
                return page("error.html", request, status=_status(err), **views.error(err))
        return endpoint

    routes = [
        Route("/", handler(lambda a, p, r: views.home(a), "home.html")),
        Route("/registry", handler(lambda a, p, r: views.registry(a), "registry.html")),
        Route("/registry/{model}", handler(lambda a, p, r: views.model(a, p["model"]), "model.html")),
        Route("/p/{project}/a/{name}", handler(lambda a, p, r: views.artifact(a, p["project"], p["name"]),
                                               "artifact.html")),
        Route("/p/{project}/a/{name}/aliases",
              handler(lambda a, p, r: views.alias_history(a, p["project"], p["name"]), "aliases.html")),
        Route("/p/{project}/a/{name}/{version}",
              handler(lambda a, p, r: views.version(a, p["project"], p["name"], p["version"]), "version.html")),
        Route("/p/{project}/a/{name}/{version}/lineage", handler(_version_lineage, "lineage.html")),
        Route("/p/{project}/a/{name}/{version}/diff", handler(_diff, "diff.html")),
        Route("/runs/{run_id}", handler(lambda a, p, r: views.run(a, p["run_id"]), "run.html")),
        Route("/runs/{run_id}/lineage", handler(_run_lineage, "lineage.html")),
        Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static"),
    ]
    if settings.write:
        routes.append(Route("/p/{project}/a/{name}/aliases", _alias_post(api, settings, page), methods=["POST"]))
    app = Starlette(routes=routes)
    return Guard(app, settings.token, settings.port, settings.write)


def check_params(params: dict) -> None:
    """Refuse path segments that break the naming rules (a ':' or '@' in a name would change the
    address the page builds from it) before the API reads anything, so a URL always means the
    version it spells."""
    for key, value in params.items():
        if key == "project":
            check_project(value)
        elif key == "version" and not is_version_name(value):
            raise InvalidNameError(f"{value!r} is not a version number", "versions are v0, v1, ...")
        else:
            check_name(value, {"model": "registered model name", "run_id": "run id"}.get(key, "artifact name"))


def _status(err: MvcError) -> int:
    return 404 if isinstance(err, NotFoundError) or err.exit_code == 3 else 400 if isinstance(err, UsageError) else 500


def _diff(api, params: dict, request: Request) -> dict:
    q = request.query_params
    return views.diff(api, params["project"], params["name"], params["version"], q.get("against", ""),
                      q.get("other", ""))


def _version_lineage(api, params: dict, request: Request) -> dict:
    address = f"{params['project']}/{params['name']}:{params['version']}"
    v = api.artifact(address)
    return _lineage(api.lineage(v.address, depth=_depth(request)).to_dict(), v.address,
                    views.artifact_href(v.project, v.name, v.version), request)


def _run_lineage(api, params: dict, request: Request) -> dict:
    r = api.run(params["run_id"])
    return _lineage(api.lineage(f"run:{r.id}", depth=_depth(request)).to_dict(), f"run {r.name} ({r.id})",
                    views.run_href(r.id), request)


def _lineage(g: dict, title: str, back: str, request: Request) -> dict:
    return {"title": title, "back": back, "svg": graph.layout(g), "depth": request.query_params.get("depth", ""),
            "counts": {"versions": sum(n["kind"] != "run" for n in g["nodes"]),
                       "runs": sum(n["kind"] == "run" for n in g["nodes"]), "edges": len(g["edges"])}}


def _depth(request: Request) -> int | None:
    raw = request.query_params.get("depth", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 4:
        raise UsageError(f"depth {raw[:20]!r} is not a whole number from 0 to 9999",
                         "leave it empty for any depth, or give e.g. 2")
    return int(raw)


def _alias_post(api_factory, settings: Settings, page):
    """Set or remove an alias (only with `--write`; the Guard already checked Host, cookie and origin)."""
    from .guard import same

    async def endpoint(request: Request):
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if not same(form.get("token"), settings.token):
            return HTMLResponse("mvc ui refused a write without its form token\n", status_code=403)
        project, name = request.path_params["project"], request.path_params["name"]
        try:
            check_params(dict(request.path_params, version=form.get("version") or "v0"))
            await run_in_threadpool(_change_alias, api_factory(), project, name, form)
        except MvcError as err:
            return page("error.html", request, status=_status(err), **views.error(err))
        return RedirectResponse(views.artifact_href(project, name, "aliases"), status_code=303)
    return endpoint


def _change_alias(api, project: str, name: str, form: dict) -> None:
    if form.get("action") == "remove":
        api.remove_alias(f"{project}/{name}", form.get("alias", ""))
    else:
        api.set_alias(f"{project}/{name}:{form.get('version', '')}", form.get("alias", ""))
