"""Small valid documents of every kind, as YAML text, for the loader tests."""

from __future__ import annotations

INTEGRATION = """\
apiVersion: meshgate.dev/v1alpha1
kind: Integration
metadata:
  name: argocd-staging
  workspace: shop
spec:
  provider: argocd
  config:
    url: https://argocd.internal
    app_filter: "user-service-*"
  secrets:
    token: {env: ARGOCD_TOKEN}
    webhook_token: {file: /run/secrets/argocd-webhook}
"""

TRIGGER_RULE = """\
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata:
  name: user-service-pr
  workspace: shop
spec:
  integration: argocd-staging
  repository: "user-service-pr-*"
  branch_filter: "*"
  event_types: [sync]
  suite: checkout-smoke
  environment:
    template: pr-preview
    context: "pr-${event.pr_number}"
  status_context: meshgate/checkout-smoke
  enabled: true
"""

SUITE = """\
apiVersion: meshgate.dev/v1alpha1
kind: Suite
metadata:
  name: checkout-smoke
  workspace: shop
  labels: {team: payments}
spec:
  flows:
    - flow: place-order
    - selector:
        match_labels: {suite: checkout-smoke}
  defaults:
    timeout: 10s
    headers:
      X-Test-Run: "${run.id}"
  concurrency: 4
  timeout: 15m
"""

FLOW = """\
apiVersion: meshgate.dev/v1alpha1
kind: Flow
metadata:
  name: place-order
  workspace: shop
spec:
  timeout: 3m
  steps:
    - name: create order
      request:
        service: order-service
        method: POST
        path: /v1/orders
        json: {sku: SKU-1, quantity: 2}
      retry: {attempts: 3, on: [connect, 503]}
      expect:
        - status: 201
        - json: $.id
          matches: '^ord_[0-9a-z]+$'
        - duration: {lt: 800ms}
      capture:
        order_id: {json: $.id}
"""

ENVIRONMENT_TEMPLATE = """\
apiVersion: meshgate.dev/v1alpha1
kind: EnvironmentTemplate
metadata:
  name: pr-preview
  workspace: shop
spec:
  provisioner: argocd
  integration: argocd-staging
  ttl_minutes: 60
  application:
    metadata: {name: "user-service-${context}"}
    spec: {project: default}
  wait: {health: Healthy, timeout: 10m}
  routing_policy:
    user-service: "http://user-service.review-${context}.svc.cluster.local:8080"
"""

ALL = (INTEGRATION, TRIGGER_RULE, SUITE, FLOW, ENVIRONMENT_TEMPLATE)
