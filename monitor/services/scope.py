"""Which workers, alarms and incidents a console user may see and handle.

Operators and admins see everything. A supervisor sees only the teams they are given
(`user_teams`): their workers, those workers' alarms, and incidents recorded against those teams.
An alarm from a fob allocated to nobody belongs to no team, so only operators and admins see it.
Refusals name the reason; ids outside the scope are refused as if they did not exist to the
caller, with a 404 that says so (an id from another team leaks nothing but its existence)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from monitor.errors import NotFound
from monitor.models import Alarm, Incident, Team, User, UserTeam, Worker

SUPERVISOR = "supervisor"
STAFF_ROLES = ("operator", SUPERVISOR, "admin")  # who may use the console
ROLES = STAFF_ROLES


class Scope:
    """`teams` is None for "everything", else the team names the user may handle."""

    def __init__(self, teams: frozenset[str] | None) -> None:
        self.teams = teams

    @property
    def everything(self) -> bool:
        return self.teams is None

    def sees_team(self, team: str | None) -> bool:
        return self.teams is None or (team is not None and team in self.teams)

    def worker_clause(self) -> ColumnElement[bool] | None:
        if self.teams is None:
            return None
        return Worker.team.in_(self.teams) if self.teams else false()

    def alarm_clause(self) -> ColumnElement[bool] | None:
        if self.teams is None:
            return None
        if not self.teams:
            return false()
        return Alarm.worker_id.in_(select(Worker.id).where(Worker.team.in_(self.teams)))

    def incident_clause(self) -> ColumnElement[bool] | None:
        if self.teams is None:
            return None
        return Incident.team.in_(self.teams) if self.teams else false()

    def filter(self, stmt: Any, clause: ColumnElement[bool] | None) -> Any:
        return stmt if clause is None else stmt.where(clause)

    def check_worker(self, worker: Worker) -> Worker:
        if not self.sees_team(worker.team):
            raise NotFound(f"worker {worker.id} is not in one of your teams")
        return worker

    def check_alarm(self, session: Session, alarm: Alarm) -> Alarm:
        if self.teams is None:
            return alarm
        worker = session.get(Worker, alarm.worker_id) if alarm.worker_id else None
        if worker is None or not self.sees_team(worker.team):
            raise NotFound(f"alarm {alarm.id} is not from one of your teams")
        return alarm

    def check_incident(self, incident: Incident) -> Incident:
        if not self.sees_team(incident.team):
            raise NotFound(f"incident {incident.id} is not from one of your teams")
        return incident

    def sees_payload(self, payload: dict[str, Any]) -> bool:
        """For the live stream: an alarm payload carries its worker's team."""
        if self.teams is None:
            return True
        worker = payload.get("worker") or {}
        return self.sees_team(worker.get("team"))


EVERYTHING = Scope(None)


def team_names(session: Session, user_id: int) -> frozenset[str]:
    return frozenset(
        session.scalars(
            select(Team.name)
            .join(UserTeam, UserTeam.team_id == Team.id)
            .where(UserTeam.user_id == user_id)
        )
    )


def for_user(session: Session, user: User | None) -> Scope:
    if user is None:
        return Scope(frozenset())
    if user.role != SUPERVISOR:
        return EVERYTHING
    return Scope(team_names(session, user.id))


def set_teams(session: Session, user: User, team_ids: Iterable[int]) -> None:
    wanted = set(team_ids)
    known = set(session.scalars(select(Team.id).where(Team.id.in_(wanted)))) if wanted else set()
    if wanted - known:
        raise NotFound(f"no team {sorted(wanted - known)[0]}")
    for row in session.scalars(select(UserTeam).where(UserTeam.user_id == user.id)):
        if row.team_id not in wanted:
            session.delete(row)
        else:
            wanted.discard(row.team_id)
    for tid in sorted(wanted):
        session.add(UserTeam(user_id=user.id, team_id=tid))
    session.flush()
