# The seed-002 deployment: one compose service per replica (app_1..app_N)
# behind an nginx proxy on 127.0.0.1:PORT, with a redis db. Roles live in
# ../roles, templates in ../templates.
#
#   zdplay run playbooks/app.hcl -t provision
#   zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2
#   zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2 -e order=start-first
#   zdplay run playbooks/app.hcl -t rollback
#   zdplay run playbooks/app.hcl -t teardown
#
# Every role first takes a lock on DIR/.zdplay.lock: a second run on the same
# deployment is refused at once, naming the run that holds it.

# The demo app's variables (image, version, replicas, port, project, dir,
# images, limits, health_timeout) and the strategy (parallelism, order,
# delay, monitor, failure_action, max_failure_ratio), and the proxy
# (proxy, haproxy_image, slots).
import = ["demo.vars.hcl", "update_config.vars.hcl", "proxy.vars.hcl"]

locals {
  project = var.project
  dir      = abspath(var.dir)
  compose  = "${local.dir}/docker-compose.yml"
  lock     = "${local.dir}/.zdplay.lock"
  release  = "${local.dir}/last-good-release"
  services = [for i in range(var.replicas) : "app_${i + 1}"]
  # The release every replica ran after the last successful run: what a
  # failed upgrade rolls back to.
  previous = fileexists(local.release) ? trimspace(file(local.release)) : var.version
  # Written when a successful upgrade (or provision) changed the release: the
  # release that ran before it, which -t rollback returns to.
  previous_release = "${local.dir}/previous-release"
  # The deployment as roles/rollout.hcl takes it (param "stack"): the
  # variables, which the compose template reads, and the paths.
  stack = merge(var, { project = local.project, dir = local.dir, compose = local.compose })
}

play "app" {
  roles = ["deploy", "rollback", "teardown"]
}
