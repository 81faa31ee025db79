"""report-python-gitlab.py NAME: report `passed` for the check NAME with python-gitlab.

Its CLI cannot set a status, so this is the small script a job would use: the library
lists the MR's checks (lazy objects: no request for the project or the MR), and its raw
`http_post` sends the response, since the library has no method for
`status_check_responses`. 2 requests, like the curl script.
"""

import os
import sys

import gitlab

name = sys.argv[1]
gl = gitlab.Gitlab(os.environ["CI_SERVER_URL"], private_token=os.environ["STATUS_CHECK_TOKEN"])
project_id = os.environ["CI_PROJECT_ID"]
iid = os.environ["CI_MERGE_REQUEST_IID"]
mr = gl.projects.get(project_id, lazy=True).mergerequests.get(iid, lazy=True)
check = next(c for c in mr.status_checks.list(get_all=True) if c.name == name)
gl.http_post(
    f"/projects/{project_id}/merge_requests/{iid}/status_check_responses",
    post_data={
        "sha": os.environ["CI_COMMIT_SHA"],
        "external_status_check_id": check.id,
        "status": "passed",
    },
)
