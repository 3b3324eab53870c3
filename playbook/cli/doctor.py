"""`playbook doctor SPEC|ENDPOINT_ID|JOB_ID`: one verdict with its evidence and the fix
(``playbook.doctor.diagnose``)."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("doctor", help="diagnose a spec, an endpoint or a job: verdict, evidence, fix",
                            epilog="exit status: 0 healthy, 2 a problem was found, 3 the endpoint is fine but the "
                                   "job's input was refused, 1 the doctor could not run")
    parser.add_argument("subject", nargs="?", help="a spec file (deploy/demo.toml), an endpoint id, "
                                                   "ENDPOINT_ID/JOB_ID, or a job id with --endpoint")
    parser.add_argument("--verdicts", action="store_true",
                        help="list the verdicts the doctor can give, and exit")
    parser.add_argument("--endpoint", help="the endpoint of a bare JOB_ID")
    parser.add_argument("--stop-crash-loop", action="store_true",
                        help="on a crash loop, set the endpoint's max workers to 0 so it stops billing")
    parser.add_argument("--hung-after-s", type=float, default=120.0,
                        help="a job running this long with a silent worker log is hung (default 120)")
    from playbook.cli.options import add_target_argument

    add_target_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from playbook.core.config import resolve_target
    from playbook.core.errors import ConfigError
    from playbook.doctor import diagnose as doctor

    if args.verdicts:
        for name in (*doctor.checks.PRECEDENCE, "healthy"):
            meaning, fix = doctor.rules.VERDICTS[name]
            print(f"{name:18} {meaning}\n{'':18} fix: {fix}")
        return 0
    if not args.subject:
        raise ConfigError("give a subject: a spec file, ENDPOINT_ID or ENDPOINT_ID/JOB_ID (or --verdicts).")
    if Path(args.subject).is_file():
        from playbook.deploy.spec import load_spec

        print(doctor.spec_diagnosis(load_spec(args.subject)))
        return 0
    if args.endpoint and "/" in args.subject:
        raise ConfigError("give either ENDPOINT_ID/JOB_ID or JOB_ID with --endpoint, not both.")
    subject = f"{args.endpoint}/{args.subject}" if args.endpoint else args.subject
    doctor.parse_subject(subject)  # a bare job id is refused with the two forms, before any call
    target = resolve_target(None if args.target == "auto" else args.target)
    result = doctor.Doctor(target, hung_after_s=args.hung_after_s).diagnose(subject)
    if args.stop_crash_loop:
        doctor.stop_crash_loop(result, subject.split("/", 1)[0], target)
    print(result)
    print(f"({result.api_calls} API calls, {result.elapsed_s:.2f} s)")
    return doctor.rules.EXIT_STATUS.get(result.verdict, 2)
