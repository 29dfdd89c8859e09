#!/usr/bin/env bash
# test_budget.sh - more threads faulting at once than the local budget has pages
# (issue 18, finding 4).  A batch of faults could take every page of the budget as a
# demand read not yet submitted, and the pager then declared the budget exhausted
# ("all are pinned", exit status 70).  Now it submits the batch's reads and lands them
# first: 32 and 64 threads at a 64K budget (16 pages), under both reclaim policies,
# give every thread its own data back.
source "$(dirname "$0")/helpers/preload_lib.sh"

for reclaim in clock fifo; do
	for threads in 32 64; do
		got=$(timeout -k 5 60 "$FARSIGHT" run --quiet --local-mem 64K --reclaim $reclaim -- \
			"$H/preload_threads" $threads 4 10 2>&1)
		st=$?
		[ $st -eq 0 ] && [ "$got" = "threads ok" ]
		check "$threads threads at a 16-page budget, reclaim $reclaim" $? "status $st: $got"
	done
done
finish
