"""``make bench``: the figures behind the README's performance claims (issue 7).

``python -m bench.run`` orchestrates; ``bench/probes/`` holds the child programs it
times in fresh processes, which import nothing of the harness.
"""
