# Deploy a user's own compose app: the compose file stays as the user wrote
# it (never modified); zdplay renders the stack it runs into dir: every other
# service as written, `service` as replicas service_1..service_N behind a
# proxy on 127.0.0.1:PORT (-e proxy=haproxy|nginx), rolled by the same
# rollout as app.hcl.
#
#   zdplay run playbooks/compose.hcl -t provision -e compose=./compose.yaml
#   zdplay run playbooks/compose.hcl -t upgrade -e compose=./compose.yaml -e version=2
#   zdplay run playbooks/compose.hcl -t rollback -e compose=./compose.yaml
#   zdplay run playbooks/compose.hcl -t teardown -e compose=./compose.yaml
#
# Unset (0, "" or -1), a variable takes the file's value (deploy.replicas,
# the image tag, the only expose/ports target, deploy.update_config).

# The proxy choice (proxy.vars.hcl: haproxy_image, slots), with HAProxy as
# this playbook's default.
import = ["proxy.vars.hcl"]

variable "compose" {
  description = "path to your compose file (never modified)"
}
variable "service" {
  description = "the service to replicate and roll"
  default     = "web"
}
variable "replicas" {
  description = "how many replicas of it (0: the file's deploy.replicas, else 2)"
  type        = number
  default     = 0
}
variable "version" {
  description = "the new tag of the service's image (\"\": the tag in the file)"
  default     = ""
}
variable "app_port" {
  description = "the port it listens on inside its container (0: its only expose/ports target)"
  type        = number
  default     = 0
}
variable "health_path" {
  description = "HTTP path that answers 2xx when a replica is ready (a Docker healthcheck in the file must pass too)"
  default     = "/"
}
variable "port" {
  description = "the proxy's port on 127.0.0.1"
  type        = number
  default     = 8000
}
variable "project" {
  description = "the compose project name (\"\": the compose file's directory name)"
  default     = ""
}
variable "dir" {
  description = "where the rendered stack and the proxy conf go (\"\": .zdplay/PROJECT)"
  default     = ""
}
variable "migrate" {
  description = "argv run once in a container of the new release before any replica is drained, e.g. [\"./manage\", \"migrate\"]; non-zero fails the run with nothing drained"
  type        = list(string)
  default     = []
}
variable "health_timeout" {
  description = "how long a new replica may take to turn healthy"
  default     = "60s"
}
variable "parallelism" {
  description = "replicas replaced at once (0: update_config.parallelism, else 1)"
  type        = number
  default     = 0
}
variable "order" {
  description = "stop-first or start-first (\"\": update_config.order, else stop-first)"
  default     = ""
}
variable "delay" {
  description = "wait between two batches (\"\": update_config.delay, else 0s)"
  default     = ""
}
variable "monitor" {
  description = "how long a new replica must stay healthy (\"\": update_config.monitor, else 0s)"
  default     = ""
}
variable "failure_action" {
  description = "rollback, pause or continue (\"\": update_config.failure_action, else rollback)"
  default     = ""
}
variable "max_failure_ratio" {
  description = "the share of the replicas that may fail (-1: update_config.max_failure_ratio, else 0)"
  type        = number
  default     = -1
}
variable "proxy" {
  description = "the proxy in front of the replicas: haproxy (its runtime API: no reload, no client connection closed) or nginx (a reload per drain and undrain)"
  default     = "haproxy"
}
variable "proxy_image" {
  description = "nginx image, with -e proxy=nginx (make images builds it from Debian's package)"
  default     = "zdplay-demo/nginx:local"
}
variable "proxy_next_upstream" {
  description = "let the proxy retry a failed request on the next replica"
  type        = bool
  default     = true
}

locals {
  project = var.project != "" ? var.project : regex_replace(lower(basename(dirname(abspath(var.compose)))), "[^a-z0-9_-]", "")
  dir     = abspath(var.dir != "" ? var.dir : ".zdplay/${local.project}")
  compose = "${local.dir}/docker-compose.yml"
  lock    = "${local.dir}/.zdplay.lock"
  release = "${local.dir}/last-good-release"
  # The release every replica ran after the last successful run ("" before
  # the first): what a failed upgrade rolls back to.
  previous         = fileexists(local.release) ? trimspace(file(local.release)) : ""
  previous_release = "${local.dir}/previous-release"
  # Values for the compose file's ${NAME} interpolation, over the
  # environment and .env: none here; app.hcl sets the demo's.
  env = {}
  # The deployment as roles/rollout.hcl takes it (param "stack").
  stack = merge(var, { project = local.project, dir = local.dir, compose = local.compose, env = local.env })
}

play "app" {
  roles = ["compose_deploy", "compose_rollback", "teardown"]
}
