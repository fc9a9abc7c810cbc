"""Teams and offices (admins). Supervisors are given teams on their account
(PATCH /v1/users/{id} with team_ids); renaming a team renames it on its workers and incidents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from monitor.api.deps import CurrentAdmin, RowId, SessionDep
from monitor.schemas import TeamEdited, TeamOut
from monitor.services import teams

router = APIRouter(prefix="/v1/teams", tags=["teams"])

TeamName = Field(min_length=1, max_length=80, pattern=r"\S")  # not only spaces


class TeamIn(BaseModel):
    name: str = TeamName
    office: str | None = Field(default=None, max_length=120)


class TeamPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80, pattern=r"\S")
    office: str | None = Field(default=None, max_length=120, description='"" clears it')


def _out(view: teams.TeamView) -> dict[str, Any]:
    return {
        "id": view.team.id,
        "name": view.team.name,
        "office": view.team.office,
        "supervisors": [u.username for u in view.supervisors],
        "workers": view.workers,
    }


def _view(session: Any, team_id: int) -> teams.TeamView:
    return next(v for v in teams.overview(session) if v.team.id == team_id)


@router.get("", response_model=list[TeamOut])
def list_teams(_: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    return [_out(v) for v in teams.overview(session)]


@router.post("", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    team = teams.create(session, admin.actor, body.name.strip(), body.office or None)
    session.commit()
    return _out(_view(session, team.id))


@router.patch("/{team_id}", response_model=TeamEdited)
def edit_team(
    team_id: RowId, body: TeamPatch, admin: CurrentAdmin, session: SessionDep
) -> dict[str, Any]:
    """Rename (its workers and incidents follow, in one transaction) or change the office."""
    team = teams.get(session, team_id)
    name = body.name.strip() if body.name is not None else None
    moved = teams.edit(session, admin.actor, team, name=name, office=body.office)
    session.commit()
    return {
        **_out(_view(session, team.id)),
        "renamed_workers": moved["workers"],
        "renamed_incidents": moved["incidents"],
    }
