"""The job layer: RQ jobs over the domain, the reconciler, imports, the clock.

Every job is declared in fulfil.jobs (its dotted path, queue, timeout and TTL), where the
app enqueues it by that path; here each is defined under `@job(SPEC)`. This package
imports `fulfil`, never the other way round.
"""
import functools

from workers.context import app_context


def job(spec):
    """Define the job `spec` (a fulfil.jobs.JobSpec) names: refuses a spec whose dotted path
    is another function's, so the path the app enqueues always reaches this one.

    The job runs inside the app context (built once per worker process); called directly
    from a test or a view it uses the current one.
    """
    def decorate(fn):
        path = f"{fn.__module__}.{fn.__name__}"
        if spec.func != path:
            raise ValueError(f"job spec {spec.func!r} declared on {path}")

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with app_context():
                return fn(*args, **kwargs)

        run.spec = spec
        return run
    return decorate
