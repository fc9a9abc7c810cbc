"""Teams and offices. Workers and incidents name their team by string (`Worker.team`,
`Incident.team`), so renaming a team renames those values in the same transaction: a supervisor
keeps seeing the same people, and reports keep counting them under one name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.errors import Conflict, NotFound
from monitor.models import Incident, Team, User, UserTeam, Worker
from monitor.services import audit


@dataclass
class TeamView:
    team: Team
    supervisors: list[User]
    workers: int


def get(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team {team_id}")
    return team


def _name_free(session: Session, name: str, but: int | None = None) -> None:
    clash = session.scalar(select(Team).where(func.lower(Team.name) == name.lower()))
    if clash is not None and clash.id != but:
        raise Conflict(f'there is already a team called "{clash.name}"')


def create(session: Session, actor: str, name: str, office: str | None) -> Team:
    _name_free(session, name)
    team = Team(name=name, office=office)
    session.add(team)
    session.flush()
    audit.record(session, actor, "team_created", subject=f"team:{team.id}",
                 details={"name": name, "office": office})  # fmt: skip
    return team


def edit(
    session: Session, actor: str, team: Team, *, name: str | None, office: str | None
) -> dict[str, int]:
    """Rename a team and/or change its office. Returns how many workers and incidents were
    renamed with it. The caller commits: all of it lands together or none does."""
    moved = {"workers": 0, "incidents": 0}
    details: dict[str, object] = {}
    if name is not None and name != team.name:
        _name_free(session, name, but=team.id)
        old = team.name
        moved["workers"] = session.execute(
            update(Worker).where(Worker.team == old).values(team=name)
        ).rowcount  # type: ignore[attr-defined]
        moved["incidents"] = session.execute(
            update(Incident).where(Incident.team == old).values(team=name)
        ).rowcount  # type: ignore[attr-defined]
        team.name = name
        details.update({"renamed": [old, name], **moved})
    if office is not None and office != team.office:
        details["office"] = [team.office, office]
        team.office = office or None
    if details:
        session.flush()
        audit.record(session, actor, "team_updated", subject=f"team:{team.id}", details=details)
    return moved


def overview(session: Session) -> list[TeamView]:
    """Every team with its supervisors and how many workers name it."""
    teams = list(session.scalars(select(Team).order_by(Team.name)))
    counts: dict[str | None, int] = {
        team: n
        for team, n in session.execute(select(Worker.team, func.count()).group_by(Worker.team))
    }
    sups: dict[int, list[User]] = {}
    for team_id, user in session.execute(
        select(UserTeam.team_id, User).join(User, User.id == UserTeam.user_id).order_by(User.name)
    ):
        sups.setdefault(team_id, []).append(user)
    return [TeamView(t, sups.get(t.id, []), counts.get(t.name, 0)) for t in teams]


def names_by_user(session: Session) -> dict[int, list[str]]:
    """user id -> the names of their teams (supervisors only have any)."""
    out: dict[int, list[str]] = {}
    for user_id, name in session.execute(
        select(UserTeam.user_id, Team.name)
        .join(Team, Team.id == UserTeam.team_id)
        .order_by(Team.name)
    ):
        out.setdefault(user_id, []).append(name)
    return out
