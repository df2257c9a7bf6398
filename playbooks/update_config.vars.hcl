# The rolling update's strategy, in the names of Compose's
# deploy.update_config, imported by compose.hcl (so app.hcl) and swarm.hcl.
# Unset (0, "" or -1), each takes the compose file's update_config, else
# the default it names. Not a playbook: it holds variable blocks only.

variable "parallelism" {
  description = "how many replicas an upgrade replaces at once, a batch (0: update_config's, else 1)"
  type        = number
  default     = 0
}
variable "delay" {
  description = "how long an upgrade waits between two batches (\"\": update_config's, else 0s)"
  default     = ""
}
variable "order" {
  description = "stop-first (a batch leaves the proxy, then is replaced) or start-first (as many surge replicas as a batch start at the new release and serve first, so capacity never drops below replicas) (\"\": update_config's, else stop-first)"
  default     = ""
}
variable "monitor" {
  description = "how long a new replica must stay healthy before it takes traffic; a failure then still counts (\"\": update_config's, else 0s)"
  default     = ""
}
variable "failure_action" {
  description = "what a failed upgrade does past max_failure_ratio: rollback (every replica back to the last good release), pause (the failed batch stays drained) or continue (\"\": update_config's, else rollback)"
  default     = ""
}
variable "max_failure_ratio" {
  description = "the share of the replicas that may fail to upgrade (each goes back to the last good release) while the upgrade goes on (-1: update_config's, else 0)"
  type        = number
  default     = -1
}
