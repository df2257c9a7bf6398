# The rolling update's strategy, in the names of Compose's
# deploy.update_config, imported by app.hcl and swarm.hcl. Not a playbook:
# it holds variable blocks only.

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
