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

variable "image" {
  description = "the app's image repository (any image that serves :3000 and GET /ping)"
  default     = "zdplay-demo/app"
}
variable "version" {
  description = "the image tag to run"
  default     = "0.0.1"
}
variable "replicas" {
  description = "how many app replicas (compose services app_1..app_N)"
  type        = number
  default     = 2
}
variable "port" {
  description = "the proxy's port on 127.0.0.1"
  type        = number
  default     = 8000
}
variable "project" {
  description = "the compose project name"
  default     = "zdplay-demo"
}
variable "dir" {
  description = "where the rendered compose file and nginx conf go"
  default     = ".zdplay/zdplay-demo"
}
variable "proxy_image" {
  description = "nginx image (make images builds it from Debian's package)"
  default     = "zdplay-demo/nginx:local"
}
variable "proxy" {
  description = "the proxy in front of the replicas: nginx (a reload per drain and undrain) or haproxy (its runtime API: no reload)"
  default     = "nginx"
}
variable "haproxy_image" {
  description = "haproxy image, with -e proxy=haproxy (make images builds it from Debian's package)"
  default     = "zdplay-demo/haproxy:local"
}
variable "slots" {
  description = "with -e proxy=haproxy: the backend's server slots, the most replicas (surge included) it can hold without a reload"
  type        = number
  default     = 16
}
variable "db_image" {
  description = "redis image (make images builds it from Debian's package)"
  default     = "zdplay-demo/redis:local"
}
variable "app_memory" {
  description = "memory limit of each app replica"
  default     = "128m"
}
variable "app_cpus" {
  description = "CPU limit of each app replica"
  type        = number
  default     = 1
}
variable "db_memory" {
  description = "memory limit of the db"
  default     = "256m"
}
variable "proxy_next_upstream" {
  description = "let nginx retry a failed request on the next replica (the drain alone must keep upgrades clean)"
  type        = bool
  default     = true
}
variable "parallelism" {
  description = "how many replicas an upgrade replaces at once (a batch)"
  type        = number
  default     = 1
}
variable "delay" {
  description = "how long an upgrade waits between two batches"
  default     = "0s"
}
variable "order" {
  description = "stop-first (a batch leaves the proxy, then is replaced) or start-first (as many surge replicas as a batch start at the new release and serve first, so capacity never drops below replicas)"
  default     = "stop-first"
}
variable "monitor" {
  description = "how long a new replica must stay healthy before it takes traffic (a failure then still counts)"
  default     = "0s"
}
variable "failure_action" {
  description = "what a failed upgrade does past max_failure_ratio: rollback (every replica back to the last good release), pause (the failed batch stays drained) or continue (go on with the next batch)"
  default     = "rollback"
}
variable "max_failure_ratio" {
  description = "the share of the replicas that may fail to upgrade (each goes back to the last good release) while the upgrade goes on"
  type        = number
  default     = 0
}
variable "health_timeout" {
  description = "how long a new replica may take to turn healthy before the upgrade rolls back"
  default     = "60s"
}

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
}

play "app" {
  roles = ["deploy", "rollback", "teardown"]
}
