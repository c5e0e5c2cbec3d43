from config.settings import load_config
from gateway.app import create_app

app = create_app(load_config())
