"""The queue row's <option> lists: escaped labels and the right options selected."""

from types import SimpleNamespace

from django.template import Context, Template


def _render(source: str, **context: object) -> str:
    return Template("{% load queue_options %}" + source).render(Context(context))


def test_labels_are_escaped_and_the_chosen_pk_is_selected():
    records = [SimpleNamespace(pk=1, name="Travel"), SimpleNamespace(pk=2, name="<b>Meals</b>")]

    html = _render("{% select_options records 2 by_name=True %}", records=records)

    assert html == (
        '<option value="1">Travel</option>'
        '<option value="2" selected>&lt;b&gt;Meals&lt;/b&gt;</option>'
    )


def test_a_set_of_pks_selects_each_and_str_labels_by_default():
    class Rate(SimpleNamespace):
        def __str__(self) -> str:
            return f"{self.name} ({self.rate}%)"

    records = [Rate(pk=1, name="VAT", rate=20), Rate(pk=2, name="Zero", rate=0)]

    html = _render("{% select_options records chosen %}", records=records, chosen={1, 2})

    assert html.count(" selected>") == 2
    assert ">VAT (20%)</option>" in html


def test_nothing_chosen_selects_nothing():
    records = [SimpleNamespace(pk=1, name="A")]

    assert " selected" not in _render("{% select_options records None %}", records=records)
