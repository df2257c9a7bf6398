# Deploy a user's own compose app: the compose file stays as the user wrote
# it (never modified); zdplay renders the stack it runs into dir: every other
# service as written, `service` as replicas service_1..service_N behind a
# proxy on 127.0.0.1:PORT (-e proxy=haproxy|nginx), rolled by the engine's
# rollout (roles/rollout.hcl).
#
#   zdplay run playbooks/compose.hcl -t provision -e compose=./compose.yaml
#   zdplay run playbooks/compose.hcl -t upgrade -e compose=./compose.yaml -e version=2
#   zdplay run playbooks/compose.hcl -t rollback -e compose=./compose.yaml
#   zdplay run playbooks/compose.hcl -t teardown -e compose=./compose.yaml
#
# Unset (0, "" or -1), a variable takes the file's value (deploy.replicas,
# the image tag, the only expose/ports target, deploy.update_config).
import = ["deployment.vars.hcl", "update_config.vars.hcl", "proxy.vars.hcl"]

variable "compose" {
  description = "path to your compose file (never modified)"
}
variable "service" {
  description = "the service to replicate and roll"
  default     = "web"
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
variable "migrate" {
  description = "argv run once in a container of the new release before any replica is drained, e.g. [\"./manage\", \"migrate\"]; non-zero fails the run with nothing drained"
  type        = list(string)
  default     = []
}

variable "slots" {
  description = "with -e proxy=haproxy: the backend's server slots, the most replicas (surge included) it can hold without a reload"
  type        = number
  default     = 16
}

locals {
  project = var.project != "" ? var.project : regex_replace(lower(basename(dirname(abspath(var.compose)))), "[^a-z0-9_-]", "")
  dir     = abspath(var.dir != "" ? var.dir : ".zdplay/${local.project}")
  compose = "${local.dir}/docker-compose.yml"
  lock    = "${local.dir}/.zdplay.lock"
  # The release every replica ran after the last successful run ("" before
  # the first): what a failed upgrade returns to; and the one before the
  # last upgrade that changed it: what -t rollback returns to.
  release          = "${local.dir}/last-good-release"
  previous         = fileexists(local.release) ? trimspace(file(local.release)) : ""
  previous_release = "${local.dir}/previous-release"
  # Values for the compose file's ${NAME} interpolation, over the
  # environment and .env: none here; app.hcl sets the demo's.
  env = {}
  # The deployment as roles/rollout.hcl takes it (param "stack").
  stack = merge(var, { project = local.project, dir = local.dir, compose = local.compose, source = var.compose, env = local.env })
}

play "app" {
  roles = ["compose_deploy", "teardown"]
}
