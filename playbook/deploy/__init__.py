"""05, deploy: one spec file converged onto a target by ``plan`` / ``apply`` / ``destroy``.

The phase's public interface (``from playbook import deploy``): ``deploy.plan(spec, client)``,
``deploy.apply(...)``, ``deploy.destroy(...)``. Its parts: ``spec`` (the DeploymentSpec file), ``checks``
(placement before any write), ``body`` (the REST v2 body and its diff), ``changes`` (what a plan reports),
``converge`` (plan/apply/destroy), ``model_plan`` (the spec's ``[model]``), ``guards`` (runaway cost),
``janitor`` (what the playbook made, and sweeping it), ``smoke`` (the first job).
"""

from playbook.deploy.changes import ApplyResult, Change, FieldChange, Plan
from playbook.deploy.checks import PlacementError, check_placement
from playbook.deploy.converge import (
    NEW_VOLUME,
    RELEASE_FIELDS,
    TEMPLATE_TRAP,
    apply,
    apply_volume,
    destroy,
    plan,
    plan_destroy,
    releases_table,
)
from playbook.deploy.smoke import smoke_test

__all__ = ["ApplyResult", "Change", "FieldChange", "Plan", "PlacementError", "check_placement", "NEW_VOLUME",
           "RELEASE_FIELDS", "TEMPLATE_TRAP", "apply", "apply_volume", "destroy", "plan", "plan_destroy",
           "releases_table", "smoke_test"]
