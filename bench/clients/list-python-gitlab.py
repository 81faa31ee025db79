"""list-python-gitlab.py [PER_PAGE]: every status check of the MR with python-gitlab
(`list(get_all=True)`, which follows the pages at the library's default size unless
PER_PAGE is given)."""

import os
import sys

import gitlab

gl = gitlab.Gitlab(os.environ["CI_SERVER_URL"], private_token=os.environ["STATUS_CHECK_TOKEN"])
mr = gl.projects.get(os.environ["CI_PROJECT_ID"], lazy=True).mergerequests.get(
    os.environ["CI_MERGE_REQUEST_IID"], lazy=True
)
kwargs = {"per_page": int(sys.argv[1])} if len(sys.argv) > 1 else {}
print(len(mr.status_checks.list(get_all=True, **kwargs)))
