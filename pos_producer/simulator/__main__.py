"""`python -m pos_producer.simulator ...` = `pos-producer simulate ...`."""

from pos_producer.simulator.command import simulate

if __name__ == "__main__":
    simulate()
