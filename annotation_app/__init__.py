"""annotation_app"""
