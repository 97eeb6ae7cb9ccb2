"""Job and run search over a real server: by name, tag, owner and state; bad input named."""

from __future__ import annotations

from support import Server, User, settle, shell


def test_search_jobs_and_runs_by_name_tag_owner_state(
    server: Server, alice: User, bob: User, signed_in
) -> None:
    good = alice.w.jobs.create(
        name="srch good", tasks=[shell("a", "true")], tags={"team": "srch-data"}
    ).job_id
    bad = alice.w.jobs.create(
        name="srch bad", tasks=[shell("a", "exit 3")], tags={"team": "srch-bi"}
    ).job_id
    assert good and bad
    settle(alice.w, alice.w.jobs.run_now(good).run_id)
    settle(alice.w, alice.w.jobs.run_now(bad).run_id)
    ui = signed_in(alice)

    def listed(**params: str) -> set[str]:
        page = ui.get("/jobs", params=params)
        assert page.status_code == 200, page.text
        return {n for n in ("srch good", "srch bad") if n in page.text}

    assert listed(q="SRCH") == {"srch good", "srch bad"}
    assert listed(q="srch", tag="team:srch-data") == {"srch good"}
    assert listed(q="srch", tag="team") == {"srch good", "srch bad"}
    assert listed(q="srch", state="failed") == {"srch bad"}
    assert listed(q="srch", state="succeeded") == {"srch good"}
    assert listed(q="srch", owner="alice") == {"srch good", "srch bad"}
    assert listed(q="srch", owner="nobody") == set()
    live = ui.get("/jobs/live", params={"q": "srch", "state": "failed"}).json()
    assert "srch bad" in live["html"]["job-rows"] and "srch good" not in live["html"]["job-rows"]
    refused = ui.get("/jobs", params={"state": "purple"})
    assert refused.status_code == 400 and "state" in refused.text and "succeeded" in refused.text

    def runs(**params: str) -> str:
        page = ui.get("/runs", params=params)
        assert page.status_code == 200, page.text
        return page.text.split("<tbody>")[1]  # the table, not the job picker

    assert "srch good" in runs(q="srch g") and "srch bad" not in runs(q="srch g")
    assert "srch bad" in runs(tag="team:srch-bi") and "srch good" not in runs(tag="team:srch-bi")
    assert "srch good" not in runs(q="srch", owner="bob")
