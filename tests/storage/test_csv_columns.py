"""CSV headers: which event field each column names, which columns are left out, which header is refused."""

from __future__ import annotations

import io
import typing

import pytest

from storage import events
from storage.importer import CSV_FIELDS, CsvHeaderError, csv_columns, csv_header, read_csv


def test_every_field_of_the_event_models_is_a_csv_column_the_author_flattened():
    models = typing.get_args(typing.get_args(events.Event)[0])
    fields = {name for model in models for name in model.model_fields} - {"author"}
    flattened = {f"author_{name}" for name in events.Author.model_fields}

    assert set(CSV_FIELDS) == fields | flattened
    assert len(CSV_FIELDS) == len(set(CSV_FIELDS))


def test_columns_are_matched_ignoring_case_and_surrounding_spaces():
    columns = csv_columns([" ID", "Type ", "AT", "Author_Kind", "author_ID", "Conversation_Id"])

    assert columns.fields == ("id", "type", "at", "author_kind", "author_id", "conversation_id")
    assert (columns.left_out, columns.notice()) == ((), None)


def test_a_column_naming_no_field_is_left_out_with_a_near_miss_suggested_unless_that_field_is_given():
    alone = csv_columns(["id", "conversation", "Channels", "foo", "", "  "])
    beside = csv_columns(["id", "conversation", "conversation_id"])

    assert alone.fields == ("id", None, None, None, None, None)
    assert alone.left_out == (("conversation", "conversation_id"), ("Channels", "channel"), ("foo", None))
    assert alone.notice() == (
        "columns left out (not event fields): conversation (did you mean conversation_id?), "
        "Channels (did you mean channel?), foo"
    )
    assert beside.notice() == "column left out (not an event field): conversation"


def test_a_column_left_out_twice_is_named_once():
    assert csv_columns(["id", "Notes", "notes ", "Notes"]).left_out == (("Notes", None), ("notes", None))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["id", "ID"], "the columns 'id' and 'ID' both name the field 'id'; keep one of them"),
        (["Author_Name ", "author_name"], "the columns 'Author_Name' and 'author_name' both name the field"),
    ],
)
def test_two_columns_naming_one_field_are_refused(header, message):
    with pytest.raises(CsvHeaderError, match=message):
        csv_columns(header)


def test_rows_are_read_by_the_header_s_fields_and_left_out_cells_dropped():
    data = (  # a blank line before the header; a row longer than it, a blank one, a short one
        b"\xef\xbb\xbf\n ID,Type,AT,Notes,Author_Kind,AUTHOR_ID\n"
        b"c1,message,2026-11-20T09:00:00Z,x,customer,@a,extra\n\nc2\n"
    )

    rows = list(read_csv(io.BytesIO(data)))

    assert rows == [
        (
            3,
            {
                "id": "c1",
                "type": "message",
                "at": "2026-11-20T09:00:00Z",
                "author": {"kind": "customer", "id": "@a"},
            },
        ),
        (5, {"id": "c2"}),
    ]
    assert csv_header(io.BytesIO(data)).left_out == (("Notes", None),)


def test_the_reader_refuses_a_header_naming_a_field_twice_before_its_first_row():
    with pytest.raises(CsvHeaderError):
        next(read_csv(io.BytesIO(b"id,Id\nc1,c2\n")))


def test_an_empty_file_has_no_columns_and_no_rows():
    assert (csv_header(io.BytesIO(b"")).fields, list(read_csv(io.BytesIO(b"")))) == ((), [])
