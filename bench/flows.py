"""The benchmark flows, as YAML."""


def light_flow(steps: int = 40) -> str:
    """`steps` sequential trivial tasks, each computing fibo(10)."""
    tasks = "".join(f"  - name: s{i}\n    type: fibo\n    properties: {{n: 10}}\n" for i in range(steps))
    return f"name: bench-light\ntasks:\n{tasks}"


def long_flow(n: int, steps: int = 10) -> str:
    """`steps` sequential tasks, each computing fibo(n) recursively (about 0.3 s of CPU)."""
    tasks = "".join(
        f"  - name: s{i}\n    type: fibo\n    properties: {{n: {n}, recursive: true}}\n" for i in range(steps)
    )
    return f"name: bench-long\ntasks:\n{tasks}"


def pair_flow() -> str:
    """The two-task flow of the throughput run."""
    return (
        "name: bench-pair\ntasks:\n"
        "  - name: a\n    type: fibo\n    properties: {n: 10}\n"
        "  - name: b\n    type: util.echo\n    properties: {value: '{{ outputs.a.value }}'}\n"
    )
