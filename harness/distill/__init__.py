"""Knowledge distillation: response (logit) KD and channel-wise feature KD losses, the checks that a
teacher fits a student, and the Ultralytics trainer that applies them."""
