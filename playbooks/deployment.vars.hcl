# The deployment's variables, shared by compose.hcl (so app.hcl),
# bluegreen.hcl and swarm.hcl, each of which gives its own defaults. Not a
# playbook: it holds variable blocks only.

variable "version" {
  description = "the release: the app image's tag (compose.hcl: \"\" is the tag in the compose file)"
  default     = ""
}
variable "replicas" {
  description = "how many replicas of the app (compose.hcl: 0 is the file's deploy.replicas, else 2)"
  type        = number
  default     = 0
}
variable "port" {
  description = "the proxy's port on 127.0.0.1 (Swarm: published in host mode on the manager)"
  type        = number
  default     = 8000
}
variable "project" {
  description = "the compose project (Swarm: stack) name (compose.hcl: \"\" is the compose file's directory name)"
  default     = ""
}
variable "dir" {
  description = "where the rendered files and the state files go (\"\": .zdplay/PROJECT)"
  default     = ""
}
variable "health_timeout" {
  description = "how long a new replica may take to turn healthy before the run gives up on it"
  default     = "60s"
}
variable "proxy_image" {
  description = "nginx image (make images builds it from Debian's package)"
  default     = "zdplay-demo/nginx:local"
}
variable "proxy_next_upstream" {
  description = "let the proxy retry a failed request on another replica (the drain alone must keep upgrades clean)"
  type        = bool
  default     = true
}
