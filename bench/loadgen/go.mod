module bazaar/bench/loadgen

go 1.24
