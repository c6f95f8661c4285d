"""Each task of a lab links the boto3 and AWS API reference pages of the calls it needs (grader.doclinks), and
every such link names a real client method and operation of botocore's models.

The AWS API reference's stable addresses (docs.aws.amazon.com/goto/WebAPI/<uid>/<Operation>) are the ones
botocore's and boto3's own documentation link to, e.g. https://docs.aws.amazon.com/goto/WebAPI/lambda-2015-03-31/CreateFunction
"""

from __future__ import annotations

import json
import re

import pytest

from grader import doclinks, notebooks

LABS_WITH_LINKS = (1, 2, 3, 4, 5, 6)  # the labs whose every task carries a 📖 line
TASK = re.compile(r"^## \d+ · (Task|Troubleshooting)", re.MULTILINE)


def _sections(number: int) -> list[str]:
    """The markdown of each numbered section of a lab, from its heading to the next one."""
    cells = json.loads(notebooks.solution(number).read_text())["cells"]
    text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in cells if c["cell_type"] == "markdown")
    return re.split(r"^(?=## \d+ · )", text, flags=re.MULTILINE)


def test_a_misspelt_method_or_operation_is_a_broken_link() -> None:
    good = doclinks.docs_line("codedeploy.create_deployment", "lambda.update_function_configuration")
    assert doclinks.broken_links(good) == []
    assert doclinks.broken_links(good.replace("create_deployment.html", "create_deploy.html")) == [
        doclinks.BOTO3.format(service="codedeploy", method="create_deploy")]
    assert doclinks.broken_links(good.replace("/CreateDeployment", "/CreateDeployments")) == [
        "https://docs.aws.amazon.com/goto/WebAPI/codedeploy-2014-10-06/CreateDeployments"]
    with pytest.raises(doclinks.UnknownCall, match="no method 'create_deploy'"):
        doclinks.call_links("codedeploy.create_deploy")


@pytest.mark.parametrize("number", LABS_WITH_LINKS)
def test_every_task_links_the_docs_of_its_calls(number: int) -> None:
    tasks = [s for s in _sections(number) if TASK.match(s)]
    assert tasks
    missing = [s.splitlines()[0] for s in tasks if "📖 " not in s]
    assert missing == []
    assert doclinks.broken_links("\n".join(tasks)) == []
