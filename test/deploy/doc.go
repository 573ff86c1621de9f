// Package deploy checks the monitoring files an operator installs beside the
// broker (deploy/prometheus/alerts.yml, deploy/grafana): every series their
// PromQL names is one a running broker exposes on /metrics, and every alert
// says how severe it is, what happened and where the runbook is
// (docs/operations.md, "Alerts and dashboards").
package deploy
