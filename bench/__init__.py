"""The benchmark suite behind `make bench`: each module measures one figure and merges it into
`bench/results.json`."""
