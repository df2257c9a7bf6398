# The demo app's own variables (seed 002's stack: the app's replicas, an
# nginx proxy, a redis db), imported by app.hcl, bluegreen.hcl and
# swarm.hcl. Not a playbook: it holds variable blocks only.

variable "image" {
  description = "the app's image repository (any image that serves :3000 and GET /ping)"
  default     = "zdplay-demo/app"
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
