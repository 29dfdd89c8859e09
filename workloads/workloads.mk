# Workloads build rules (filled in by the workloads work).
workloads:
