# The demo app's variables (seed 002's stack: the app's replicas, an nginx
# proxy, a redis db), imported by app.hcl, bluegreen.hcl and swarm.hcl so
# that they are declared once; a playbook declares its own project, dir or
# replicas where its default differs. Not a playbook: it holds variable
# blocks only.

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
  description = "where the rendered compose file, proxy conf and state files go"
  default     = ".zdplay/zdplay-demo"
}
variable "proxy_image" {
  description = "nginx image (make images builds it from Debian's package)"
  default     = "zdplay-demo/nginx:local"
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
  description = "let the proxy retry a failed request on another replica (the drain alone must keep upgrades clean)"
  type        = bool
  default     = true
}
variable "health_timeout" {
  description = "how long a new replica may take to turn healthy before the run gives up on it"
  default     = "60s"
}
