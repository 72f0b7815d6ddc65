from fulfil import create_app

app = create_app()
