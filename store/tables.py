"""The store's tables; the migrations in ``store/migrations/versions`` create them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


def utc_column(*, index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, index=index)


class OrderEventRecord(SQLModel, table=True):
    """One entry of an order's audit trail."""

    __tablename__ = "order_events"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, max_length=200, description="global order id")
    at: datetime = Field(sa_column=utc_column())
    kind: str = Field(max_length=40)
    detail: str | None = Field(default=None)
    actor: str | None = Field(default=None, max_length=200)
