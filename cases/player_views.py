"""The Players API (docs/api.md, "Players"): who cases are about, found by any identifier.

It lives with the cases because a Player shows how many cases report it. Every response is
read in one statement after authentication (``player_rows``): the players, their identifiers
and their counts of reported cases by status, as rows of one ``UNION ALL``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connections
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from players.identifiers import InvalidIdentifier
from players.models import Player, PlayerIdentifier
from players.services import canonical
from serverops.exceptions import NotFound
from serverops.fields import rfc3339
from serverops.ids import id_regex
from serverops.pagination import KeysetPagination, Position, encode_cursor
from serverops.sql import Rows, column, columns, table
from tokens.models import ScopedToken
from tokens.viewsets import ApiViewSet

from .models import Case, CaseSubject, Role, Status
from .schema import player_schema

PLAYER_ID = id_regex("pl")
IDENTIFIERS_MAX = 16
# A weak identifier (an address, a hardware id) may lead to many players; a response lists
# at most this many, the most recently updated.
WEAK_MATCHES_MAX = 100


class PlayerNotFound(NotFound):
    default_detail = "player not found"


class PlayerPagination(KeysetPagination):
    """Most recently updated first: the position is a player's ``updated_at`` and id."""

    results_key = "players"
    id_prefix = "pl"

    def next_cursor(self) -> str | None:
        if not self.has_more:
            return None
        last = self.page[-1]
        return encode_cursor(last.updated_at, last.pk, salt=self.results_key)


def _in(expression: str, count: int) -> str:
    """``expression IN (%s, …)`` with ``count`` parameters: one statement text per count.

    Not PostgreSQL's ``= ANY(%s)`` with one array: a prepared statement's generic plan must
    guess an array's length (10 elements), so the lookup's generic plan looked three times
    as costly as a plan for the 1–3 identifiers a join check sends, and PostgreSQL planned
    the lookup anew on every request, its longest step (bench/PROFILE.md, section 15). With
    one parameter per identifier the generic plan is the custom one, which PostgreSQL
    reuses from the sixth request of a connection on.
    """
    return f"{expression} IN ({', '.join(['%s'] * count)})"


@cache
def _players_sql(which: str, count: int = 1) -> str:
    """The statement of ``player_rows``: ``which`` names the players (a ``WITH h`` of their ids,
    in the response's order), then one row per player, per identifier and per (player, status)
    count of reported cases."""
    p_id, p_updated = f"p.{column(Player, 'id')}", f"p.{column(Player, 'updated_at')}"
    scoped = f"p.{column(Player, 'project')} = %s AND p.{column(Player, 'mode')} = %s"
    order = f"ORDER BY {p_updated} DESC, {p_id} DESC"
    if which == "identifiers":
        holders = (
            f"SELECT i.{column(PlayerIdentifier, 'player')} FROM {table(PlayerIdentifier)} i "
            f"WHERE i.{column(PlayerIdentifier, 'project')} = %s AND i.{column(PlayerIdentifier, 'mode')} = %s "
            f"AND {_in('i.' + column(PlayerIdentifier, 'identifier'), count)}"
        )
        chosen = (
            f"SELECT {p_id} AS id FROM {table(Player)} p WHERE {p_id} IN ({holders}) {order} LIMIT {WEAK_MATCHES_MAX}"
        )
    elif which == "one":
        # A merged player's id answers with its survivor.
        chosen = (
            f"SELECT COALESCE(p.{column(Player, 'merged_into')}, {p_id}) AS id FROM {table(Player)} p "
            f"WHERE {p_id} = %s AND {scoped}"
        )
    else:
        page = f"AND ({p_updated}, {p_id}) < (%s, %s) " if which == "after" else ""
        chosen = (
            f"SELECT {p_id} AS id FROM {table(Player)} p WHERE {scoped} "
            f"AND p.{column(Player, 'merged_into')} IS NULL {page}{order} LIMIT %s"
        )
    n_player = len(Player._meta.concrete_fields)
    no_player = ", ".join(["NULL"] * n_player)
    s_player, s_case, s_role = (f"s.{column(CaseSubject, name)}" for name in ("player", "case", "role"))
    i_player, i_identifier = (f"i.{column(PlayerIdentifier, name)}" for name in ("player", "identifier"))
    c_id, c_status = f"c.{column(Case, 'id')}", f"c.{column(Case, 'status')}"
    # Typed NULLs: PostgreSQL settles each column's type one UNION at a time.
    no_count = "CAST(NULL AS BIGINT)"
    return (
        f"WITH h AS ({chosen}) "
        f"SELECT 0, {columns(Player, 'p')}, NULL, NULL, {no_count} "
        f"FROM {table(Player)} p WHERE {p_id} IN (SELECT id FROM h) "
        "UNION ALL "
        f"SELECT 1, {no_player}, {i_player}, {i_identifier}, {no_count} "
        f"FROM {table(PlayerIdentifier)} i WHERE {i_player} IN (SELECT id FROM h) "
        "UNION ALL "
        f"SELECT 2, {no_player}, {s_player}, {c_status}, COUNT(*) "
        f"FROM {table(CaseSubject)} s INNER JOIN {table(Case)} c ON {c_id} = {s_case} "
        f"WHERE {s_player} IN (SELECT id FROM h) AND {s_role} = '{Role.REPORTED.value}' "
        f"GROUP BY {s_player}, {c_status}"
    )


def player_rows(which: str, params: list[Any], *, count: int = 1, using: str = "default") -> list[Any]:
    """Players as records of their rows (``serverops.sql.record_type``) with ``identifiers``
    (sorted as strings) and ``cases`` (reported cases by status), most recently updated first,
    in one statement."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(_players_sql(which, count), params)
        rows = cursor.fetchall()
    reader = Rows.of(using, Player)
    n_player = len(Player._meta.concrete_fields)
    players: dict[str, Any] = {}
    extras: list[tuple[Any, ...]] = []
    for row in rows:
        if row[0] == 0:
            (player,) = reader.records(row[1 : 1 + n_player])
            player.identifiers = []
            player.cases = dict.fromkeys(Status.values, 0)
            players[player.pk] = player
        else:
            extras.append(row)
    for row in extras:
        kind, player_id, text, number = row[0], *row[1 + n_player :]
        if kind == 1:
            players[player_id].identifiers.append(text)
        else:
            players[player_id].cases[text] = int(number)
    ordered = sorted(players.values(), key=lambda player: (player.updated_at, player.pk), reverse=True)
    for player in ordered:
        player.identifiers.sort()
    return ordered


def player_representation(player: Any) -> dict[str, Any]:
    """The Player object (docs/api.md, "Players")."""
    return {
        "id": player.pk,
        "identifiers": player.identifiers,
        "names": player.names,
        "cases": player.cases,
        "erased": player.erased,
        "created_at": rfc3339(player.created_at),
        "updated_at": rfc3339(player.updated_at),
    }


def canonical_identifiers(values: list[str], *, param: str = "identifier") -> list[str]:
    """1–16 identifiers as sent, canonical and distinct; a 400 naming ``param`` otherwise."""
    if not 1 <= len(values) <= IDENTIFIERS_MAX:
        raise ValidationError({param: [f"send 1 to {IDENTIFIERS_MAX} identifiers"]})
    try:
        return list(dict.fromkeys(str(canonical(value)) for value in values))
    except InvalidIdentifier as exc:
        raise ValidationError({param: [str(exc)]}) from None


@player_schema
class PlayerViewSet(ApiViewSet, viewsets.ViewSet):
    pagination_class = PlayerPagination
    http_method_names = ["get", "head"]
    required_scopes = {"list": "cases:read", "retrieve": "cases:read"}
    query_parameters = {"list": ("identifier", "limit", "cursor")}
    lookup_value_regex = "[^/]+"

    @property
    def token(self) -> ScopedToken:
        token = self.request.auth
        assert isinstance(token, ScopedToken)
        return token

    def list(self, request: Request) -> Response:
        """``?identifier=`` (repeatable): every player holding any of them; otherwise the paged list."""
        token = self.token
        if "identifier" in request.query_params:
            paging = sorted({"limit", "cursor"} & set(request.query_params))
            if paging:
                # Nothing a client sends is silently ignored: a lookup answers every match at once.
                raise ValidationError({paging[0]: ["pages the list of players; a lookup by identifier is not paged"]})
            identifiers = canonical_identifiers(request.query_params.getlist("identifier"))
            players = player_rows("identifiers", [token.project_id, token.mode, *identifiers], count=len(identifiers))
            return Response({"players": [player_representation(player) for player in players]})
        paginator = self.pagination_class()

        def fetch(limit: int, after: Position | None) -> list[Any]:
            if after is None:
                return player_rows("first", [token.project_id, token.mode, limit])
            at = Player._meta.get_field("updated_at").get_db_prep_value(after[0], connections["default"])
            return player_rows("after", [token.project_id, token.mode, at, after[1], limit])

        page = paginator.paginate(request, fetch)
        return paginator.get_paginated_response([player_representation(player) for player in page])

    def retrieve(self, request: Request, pk: str) -> Response:
        if not PLAYER_ID.fullmatch(pk):
            raise PlayerNotFound()
        players = player_rows("one", [pk, self.token.project_id, self.token.mode])
        if not players:
            raise PlayerNotFound()
        return Response(player_representation(players[0]))
