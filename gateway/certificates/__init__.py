"""Service certificates (志愿服务记录证明): signed content and the printable PDF."""
